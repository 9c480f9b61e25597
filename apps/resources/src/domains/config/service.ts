import type { ServiceImpl } from "@connectrpc/connect";
import type { ConfigService as ConfigServiceDesc } from "@altalune/proto";
import type { Config } from "@altalune/core";

export class ConfigService implements ServiceImpl<typeof ConfigServiceDesc> {
  constructor(private readonly branding: Config["branding"]) {}

  getPublicConfig() {
    return {
      branding: { dashboardName: this.branding.dashboardName, authServerName: this.branding.authServerName },
    };
  }
}
