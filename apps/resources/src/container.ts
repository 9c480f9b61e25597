import type { Config, Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { ApiKeyVerifier } from "./auth/api-key-verifier.js";
import { systemClock, type Clock } from "./domains/api-key/model.js";
import { ApiKeyRepo } from "./domains/api-key/repo.js";
import { ApiKeyService } from "./domains/api-key/service.js";
import { EmployeeRepo } from "./domains/employee/repo.js";
import { EmployeeService } from "./domains/employee/service.js";
import { ConfigService } from "./domains/config/service.js";
import { ProjectRepo } from "./domains/project/repo.js";
import { ProjectService } from "./domains/project/service.js";

export interface ContainerDeps {
  sql: Sql;
  config: Config;
  logger: Logger;
  /** Time as the domains see it; tests pass a fixed one. */
  clock?: Clock;
}

/** Builds every repo and service once; plain constructor injection. */
export function createContainer({ sql, config, logger, clock = systemClock }: ContainerDeps) {
  const projectRepo = new ProjectRepo(sql);
  const employeeRepo = new EmployeeRepo(sql);
  const apiKeyRepo = new ApiKeyRepo(sql);
  return {
    repos: { projects: projectRepo, employees: employeeRepo, apiKeys: apiKeyRepo },
    services: {
      config: new ConfigService(config.branding),
      project: new ProjectService(projectRepo),
      employee: new EmployeeService(employeeRepo, projectRepo),
      apiKey: new ApiKeyService(apiKeyRepo, projectRepo, clock),
    },
    auth: {
      apiKeys: new ApiKeyVerifier(apiKeyRepo, clock, logger),
    },
  };
}

export type Container = ReturnType<typeof createContainer>;
