import { OAuthClientService as OAuthClientServiceDesc } from "@altalune/proto";
import { defineDomain } from "../../shared/domain-module.js";
import { OAuthClientRepo } from "./repo.js";
import { OAuthClientService } from "./service.js";

export { seedDashboardClient, type DashboardClientSeedConfig } from "./seed.js";

export const oauthClientDomain = defineDomain({
  key: "oauthClient",
  service: OAuthClientServiceDesc,
  create: (deps) => new OAuthClientService(new OAuthClientRepo(deps.sql), deps.config.encryptionKey, deps.logger),
});
