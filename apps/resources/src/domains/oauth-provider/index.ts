import { OutboundPolicy } from "@altalune/core";
import { OAuthProviderService as OAuthProviderServiceDesc } from "@altalune/proto";
import { defineDomain } from "../../shared/domain-module.js";
import { OAuthProviderRepo } from "./repo.js";
import { OAuthProviderService } from "./service.js";

export const oauthProviderDomain = defineDomain({
  key: "oauthProvider",
  service: OAuthProviderServiceDesc,
  create: ({ sql, config, logger }) =>
    new OAuthProviderService(new OAuthProviderRepo(sql), config.encryptionKey, config.auth.issuer, logger, OutboundPolicy.fromConfig(config)),
});
