import { apiKeyDomain } from "./domains/api-key/index.js";
import { auditDomain } from "./domains/audit/index.js";
import { configDomain } from "./domains/config/index.js";
import { employeeDomain } from "./domains/employee/index.js";
import { iamDomain } from "./domains/iam/index.js";
import { oauthClientDomain } from "./domains/oauth-client/index.js";
import { oauthProviderDomain } from "./domains/oauth-provider/index.js";
import { permissionDomain } from "./domains/permission/index.js";
import { projectDomain } from "./domains/project/index.js";
import { roleDomain } from "./domains/role/index.js";
import { userDomain } from "./domains/user/index.js";

/**
 * The registration point: every domain the Resources API serves, one line each. The container
 * builds them, both ports serve them, the authorization matrix and the audit test call every RPC
 * of them (docs/architecture.md, "How to add a domain"). A domain's permissions come from its
 * proto's rules, so there is no other list to edit.
 */
export const DOMAINS = [
  projectDomain,
  configDomain,
  employeeDomain,
  apiKeyDomain,
  userDomain,
  roleDomain,
  permissionDomain,
  iamDomain,
  oauthClientDomain,
  oauthProviderDomain,
  auditDomain,
] as const;

/** The services of the registered domains, in registration order. */
export const DOMAIN_SERVICES = DOMAINS.map((d) => d.service);
