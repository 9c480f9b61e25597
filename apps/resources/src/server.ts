import type { Config, Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import {
  ApiKeyService,
  ConfigService,
  EmployeeService,
  IAMMapperService,
  PermissionService,
  ProjectService,
  RoleService,
  UserService,
} from "@altalune/proto";
import {
  CallPipeline,
  registration,
  startConnectServer,
  startGrpcServer,
  type AuthStep,
  type HttpRoute,
  type RunningServer,
} from "@altalune/rpc";
import { createContainer } from "./container.js";
import type { Clock } from "./domains/api-key/model.js";

export interface ResourcesServer {
  readonly connectPort: number;
  readonly grpcPort: number;
  /** Stops both ports, letting in-flight calls finish within the configured bound. */
  close(): Promise<void>;
}

export interface StartOptions {
  sql: Sql;
  config: Config;
  logger: Logger;
  /** Ports override (tests pass 0 for ephemeral ports). */
  ports?: { connect: number; grpc: number };
  clock?: Clock;
}

// Every method's rule is read from the proto and checked at start-up (a method without one is
// never served). Enforcing permissions, memberships and credentials is the authorization layer's
// job (issue #5); until it lands this step only records the rule on the call.
const declaredRuleOnly: AuthStep = () => {};

async function databaseReady(sql: Sql): Promise<boolean> {
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  }
}

function json(status: number, body: unknown): HttpRoute {
  return (_req, res) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
}

export async function startResourcesServer(opts: StartOptions): Promise<ResourcesServer> {
  const { sql, config, logger } = opts;
  const { services } = createContainer({ sql, config, logger, ...(opts.clock ? { clock: opts.clock } : {}) });
  const registrations = [
    registration(ProjectService, services.project),
    registration(ConfigService, services.config),
    registration(EmployeeService, services.employee),
    registration(ApiKeyService, services.apiKey),
    registration(UserService, services.user),
    registration(RoleService, services.role),
    registration(PermissionService, services.permission),
    registration(IAMMapperService, services.iamMapper),
  ];
  const pipeline = new CallPipeline({ logger, authorize: declaredRuleOnly });

  const routes: Record<string, HttpRoute> = {
    "/healthz": json(200, { status: "ok" }),
    "/readyz": async (req, res) => {
      const ready = await databaseReady(sql);
      json(ready ? 200 : 503, { status: ready ? "ready" : "database unavailable" })(req, res);
    },
  };

  const connect = await startConnectServer(
    { services: registrations, pipeline, routes, maxTimeoutMs: config.maxCallTimeoutMs },
    opts.ports?.connect ?? config.resourcesPort,
    config.host,
  );
  let grpc: RunningServer;
  try {
    grpc = await startGrpcServer(
      { services: registrations, pipeline, maxTimeoutMs: config.maxCallTimeoutMs, isReady: () => databaseReady(sql) },
      opts.ports?.grpc ?? config.grpcPort,
      config.host,
    );
  } catch (e) {
    await connect.close(0);
    throw e;
  }

  return {
    connectPort: connect.port,
    grpcPort: grpc.port,
    async close() {
      await Promise.all([connect.close(config.shutdownTimeoutMs), grpc.close(config.shutdownTimeoutMs)]);
    },
  };
}
