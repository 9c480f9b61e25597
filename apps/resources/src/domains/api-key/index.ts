import { ApiKeyService as ApiKeyServiceDesc } from "@altalune/proto";
import { defineDomain, type DomainDeps } from "../../shared/domain-module.js";
import { projectRepo } from "../project/index.js";
import { ApiKeyRepo } from "./repo.js";
import { ApiKeyService } from "./service.js";

export { hashSecret, parseApiKey } from "./key-format.js";
export type { ApiKeyRepo };

// Module-level: `shared` keeps one instance per function.
const newApiKeyRepo = (deps: DomainDeps) => new ApiKeyRepo(deps.sql);
/** The container's one ApiKeyRepo: ApiKeyService writes keys through it, the verifier reads them. */
export const apiKeyRepo = (deps: DomainDeps): ApiKeyRepo => deps.shared(newApiKeyRepo);

export const apiKeyDomain = defineDomain({
  key: "apiKey",
  service: ApiKeyServiceDesc,
  create: (deps) => new ApiKeyService(apiKeyRepo(deps), projectRepo(deps), deps.clock),
});
