import type { DescMethod, Message } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { ROOT_PERMISSION } from "@altalune/core";
import * as api from "@altalune/proto";
import { unauthenticated, type AccessTokenVerifier } from "@altalune/access-tokens";
import { apiKeyPermissions, permissionsOfRule, principalKey, servicesIn, type AuthRule, type AuthStep, type Principal } from "@altalune/rpc";
import type { ApiKeyVerifier } from "./api-key-verifier.js";
import { presentedCredential, type CookiePolicy } from "./credentials.js";
import { permissionDenied } from "./errors.js";
import type { UserStateCache } from "./user-state.js";

/** The permission that passes every rule. */

/**
 * What a project API key carries, inside its own project only: the permissions of the RPCs whose
 * rule says `api_key: true` (the project's data, such as employees; never IAM, projects,
 * memberships or API keys themselves). Read from the descriptors, never listed by hand.
 */
export const API_KEY_PERMISSIONS: ReadonlySet<string> = apiKeyPermissions(servicesIn(api));

const API_KEY_REFUSALS = {
  malformed: "API key is malformed",
  unknown: "API key is not valid",
  inactive: "API key is deactivated",
  expired: "API key has expired",
} as const;

export interface AuthorizerDeps {
  tokens: Pick<AccessTokenVerifier, "verify">;
  apiKeys: Pick<ApiKeyVerifier, "verify">;
  users: Pick<UserStateCache, "isActive" | "clientGrants">;
  cookies: CookiePolicy;
}

/** The request's value of a top-level string field, by proto name. */
function stringField(method: DescMethod, request: Message, protoName: string): string | undefined {
  const field = method.input.fields.find((f) => f.name === protoName);
  if (field === undefined) return undefined;
  const value = (request as unknown as Record<string, unknown>)[field.localName];
  return typeof value === "string" ? value : undefined;
}

function holdsAny(p: Principal, wanted: readonly string[]): boolean {
  return wanted.some((w) => p.permissions.has(w));
}

function describeRequirement(wanted: readonly string[]): string {
  return wanted.length === 1 ? `requires ${wanted[0]}` : `requires one of ${wanted.join(", ")}`;
}

/**
 * Decides whether an authenticated principal may make this call under the method's rule. Pure:
 * the same function serves both ports, and the authorization matrix test exercises it for every
 * RPC.
 */
export function decide(rule: AuthRule, method: DescMethod, request: Message, p: Principal): void {
  if (rule.public) return;
  if (p.kind === "user" && p.permissions.has(ROOT_PERMISSION)) return;
  if (p.kind === "api_key" && !rule.projectScoped) {
    throw permissionDenied("API keys may only call project-scoped RPCs of their project", { reason: "api_key_scope" });
  }
  if (rule.authenticated) return;

  if (p.kind === "user" && rule.selfField !== "" && stringField(method, request, rule.selfField) === p.userPublicId) return;
  const wanted = permissionsOfRule(rule);
  // A key is admitted by the rule, not by a permission it happens to carry; refused as a missing
  // permission, as every project-scoped RPC outside its reach always was.
  if ((p.kind === "api_key" && !rule.apiKey) || !holdsAny(p, wanted)) {
    throw permissionDenied(`permission denied: ${describeRequirement(wanted)}`, { reason: "permission", required: wanted.join(",") });
  }
  if (rule.projectScoped) {
    const projectId = stringField(method, request, "project_id") ?? "";
    if (!inProject(p, projectId)) throw permissionDenied(PROJECT_REFUSALS[p.kind], { reason: "project", project_id: projectId });
  }
}

/** Project-scoped rules: a user by membership, an API key by its project, a machine client by the projects it was given. */
function inProject(p: Principal, projectId: string): boolean {
  switch (p.kind) {
    case "user":
      return p.memberships.has(projectId);
    case "api_key":
      return p.projectPublicId === projectId;
    case "client":
      return p.projects.has(projectId);
  }
}

const PROJECT_REFUSALS: Record<Principal["kind"], string> = {
  user: "permission denied: not a member of this project",
  api_key: "permission denied: API key belongs to another project",
  client: "permission denied: this client was not given this project",
};

/**
 * A machine client's token carries the scopes and projects of its issuance; it is refused once the
 * client no longer exists or no longer holds one of them (checked per call, within the state TTL).
 */
async function refuseRevokedClient(users: AuthorizerDeps["users"], clientId: string, permissions: ReadonlySet<string>, projects: ReadonlySet<string>) {
  const grants = await users.clientGrants(clientId);
  if (grants === undefined) throw unauthenticated("the OAuth client was deleted", "client_revoked");
  const lost = [...permissions].some((s) => !grants.scopes.has(s)) || [...projects].some((id) => !grants.projects.has(id));
  if (lost) throw unauthenticated("the OAuth client no longer holds what this token carries; request a new token", "client_revoked");
}

/**
 * The pipeline's auth step. Public RPCs do not look at credentials at all (an expired cookie does
 * not break them, and they never depend on the auth server being up). Everything else needs a
 * verified principal, then `decide`.
 */
export function createAuthorizer(deps: AuthorizerDeps): AuthStep {
  const authenticate = async (headers: Headers): Promise<Principal> => {
    const credential = presentedCredential(headers, deps.cookies);
    switch (credential.kind) {
      case "none":
        throw unauthenticated("credentials required: send Authorization: Bearer <access token or API key>", "missing");
      case "api_key": {
        const result = await deps.apiKeys.verify(credential.key);
        if (!result.ok) throw unauthenticated(API_KEY_REFUSALS[result.reason], `api_key_${result.reason}`);
        return { kind: "api_key", keyPublicId: result.keyPublicId, projectPublicId: result.projectPublicId, permissions: API_KEY_PERMISSIONS };
      }
      case "access_token": {
        const claims = await deps.tokens.verify(credential.token);
        if (claims.principal === "client") {
          await refuseRevokedClient(deps.users, claims.clientId, claims.permissions, claims.projects);
          return { kind: "client", clientId: claims.clientId, permissions: claims.permissions, projects: claims.projects };
        }
        if (!(await deps.users.isActive(claims.userPublicId))) {
          throw unauthenticated("the user account is deactivated or deleted", "user_inactive");
        }
        return {
          kind: "user",
          userPublicId: claims.userPublicId,
          clientId: claims.clientId,
          permissions: claims.permissions,
          memberships: claims.memberships,
          emailVerified: claims.emailVerified,
        };
      }
    }
  };

  return async (call, request: Message, ctx: HandlerContext) => {
    if (call.rule.public) return;
    const principal = await authenticate(ctx.requestHeader);
    ctx.values.set(principalKey, principal);
    decide(call.rule, call.method, request, principal);
  };
}
