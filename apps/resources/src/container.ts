import { OutboundPolicy, type Config, type Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { ApiKeyVerifier } from "./auth/api-key-verifier.js";
import { systemClock, type Clock } from "./domains/api-key/model.js";
import { ApiKeyRepo } from "./domains/api-key/repo.js";
import { ApiKeyService } from "./domains/api-key/service.js";
import { AuditRepo } from "./domains/audit/repo.js";
import { AuditService } from "./domains/audit/service.js";
import { EmployeeRepo } from "./domains/employee/repo.js";
import { EmployeeService } from "./domains/employee/service.js";
import { ConfigService } from "./domains/config/service.js";
import { ProjectRepo } from "./domains/project/repo.js";
import { ProjectService } from "./domains/project/service.js";
import { refuseChangingUserByPublicId, refuseGrantingDefaults } from "./domains/iam/delegation.js";
import { IamRepo } from "./domains/iam/repo.js";
import { IamMapperService } from "./domains/iam/service.js";
import { OAuthClientRepo } from "./domains/oauth-client/repo.js";
import { OAuthClientService } from "./domains/oauth-client/service.js";
import { OAuthProviderRepo } from "./domains/oauth-provider/repo.js";
import { OAuthProviderService } from "./domains/oauth-provider/service.js";
import { PermissionRepo } from "./domains/permission/repo.js";
import { PermissionService } from "./domains/permission/service.js";
import { RoleRepo } from "./domains/role/repo.js";
import { RoleService } from "./domains/role/service.js";
import { noUserEvents, type UserEvents } from "./domains/user/events.js";
import { UserRepo } from "./domains/user/repo.js";
import { UserService } from "./domains/user/service.js";

export interface ContainerDeps {
  sql: Sql;
  config: Config;
  logger: Logger;
  /** Time as the domains see it; tests pass a fixed one. */
  clock?: Clock;
  /** Listeners of user life-cycle events (e.g. the auth server's verification mail). */
  userEvents?: UserEvents;
}

/** Builds every repo and service once; plain constructor injection. */
export function createContainer({ sql, config, logger, clock = systemClock, userEvents = noUserEvents }: ContainerDeps) {
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
      user: new UserService(new UserRepo(sql), userEvents, logger, {
        refuseChangingUser: (grantor, id) => refuseChangingUserByPublicId(sql, grantor, id),
        refuseCreatingUser: (grantor) => refuseGrantingDefaults(sql, grantor),
      }),
      role: new RoleService(new RoleRepo(sql)),
      permission: new PermissionService(new PermissionRepo(sql)),
      iamMapper: new IamMapperService(new IamRepo(sql)),
      oauthClient: new OAuthClientService(new OAuthClientRepo(sql), config.encryptionKey, logger),
      audit: new AuditService(new AuditRepo(sql)),
      oauthProvider: new OAuthProviderService(new OAuthProviderRepo(sql), config.encryptionKey, config.auth.issuer, logger, OutboundPolicy.fromConfig(config)),
    },
    auth: {
      apiKeys: new ApiKeyVerifier(apiKeyRepo, clock, logger),
    },
  };
}

export type Container = ReturnType<typeof createContainer>;
