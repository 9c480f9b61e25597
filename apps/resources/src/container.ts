import type { Config } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { ConfigService } from "./domains/config/service.js";
import { ProjectRepo } from "./domains/project/repo.js";
import { ProjectService } from "./domains/project/service.js";

/** Builds every repo and service once; plain constructor injection. */
export function createContainer(sql: Sql, config: Config) {
  const projectRepo = new ProjectRepo(sql);
  return {
    repos: { projects: projectRepo },
    services: {
      config: new ConfigService(config.branding),
      project: new ProjectService(projectRepo),
    },
  };
}

export type Container = ReturnType<typeof createContainer>;
