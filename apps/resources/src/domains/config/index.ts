import { ConfigService as ConfigServiceDesc } from "@altalune/proto";
import { defineDomain } from "../../shared/domain-module.js";
import { ConfigService } from "./service.js";

export const configDomain = defineDomain({
  key: "config",
  service: ConfigServiceDesc,
  create: (deps) => new ConfigService(deps.config.branding),
});
