import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createLogger, loadConfig, type Clock, type Config, type Logger } from "@altalune/core";
import { runPostMigrate } from "@altalune/db";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { TEST_DASHBOARD_CLIENT, TEST_ENCRYPTION_KEY } from "@altalune/test-kit";
import { seed } from "../seed.js";
import { startResourcesServer, type ResourcesServer } from "../server.js";
import { createGrpcJsClient } from "@altalune/rpc";
import type { StartOptions } from "../server.js";
import { TestIssuer, type TokenSpec } from "./test-issuer.js";

/** Every way a client can reach the Resources API; tests run the same table over each. */
export const TRANSPORTS = ["connect-json", "connect-binary", "grpc-web", "grpc-connect-port", "grpc-js"] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** Fixed secrets for tests (never used outside them), the same as the auth server's tests use. */
export const TEST_ENV: Record<string, string> = {
  LOG_LEVEL: "silent",
  NODE_ENV: "test",
  SHUTDOWN_TIMEOUT_MS: "2000",
  // Tests close their servers without a load balancer to drain.
  SHUTDOWN_DRAIN_MS: "0",
  ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString("base64"),
  DASHBOARD_CLIENT_ID: TEST_DASHBOARD_CLIENT.clientId,
  DASHBOARD_CLIENT_SECRET: TEST_DASHBOARD_CLIENT.clientSecret,
};

export interface ClientOptions {
  /** Bearer credential (access token or API key); null for an anonymous client. Default: root. */
  token?: string | null;
  headers?: Record<string, string>;
}

export interface TestApi {
  db: TestDatabase;
  server: ResourcesServer;
  config: Config;
  baseUrl: string;
  grpcAddress: string;
  /** Signs the tokens the API trusts (discovery + JWKS on an ephemeral port). */
  issuer: TestIssuer;
  /** The seeded superadmin and the default project. */
  superadmin: { publicId: string; email: string };
  defaultProjectId: string;
  /** An access token of the superadmin (root, owner of the default project). */
  rootToken: string;
  token(spec: TokenSpec): Promise<string>;
  client<S extends DescService>(service: S, transport: TransportName, opts?: ClientOptions): Client<S>;
  close(): Promise<void>;
}

function headerInterceptor(headers: Record<string, string>): Interceptor {
  return (next) => (req) => {
    for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
    return next(req);
  };
}

/**
 * A real Resources API on ephemeral ports over this test file's own database (cloned from the
 * migrated template, then seeded like `altalune dev` does).
 */
export async function startTestApi(
  env: Record<string, string> = {},
  opts: {
    clock?: Clock;
    logger?: Logger;
    db?: TestDatabase;
    issuer?: TestIssuer;
    auth?: StartOptions["auth"];
    userEvents?: StartOptions["userEvents"];
  } = {},
): Promise<TestApi> {
  // A given database (or issuer) is shared (e.g. a second server with another clock) and left to its owner.
  const ownsDb = opts.db === undefined;
  const ownsIssuer = opts.issuer === undefined;
  const db = opts.db ?? (await createTestDatabase());
  const issuer = opts.issuer ?? (await TestIssuer.start());
  await runPostMigrate(db.sql);
  const config = loadConfig({ ...TEST_ENV, AUTH_ISSUER: issuer.url, API_AUDIENCE: issuer.audience, ...env });
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  await seed(db.sql, logger, config);
  const server = await startResourcesServer({
    sql: db.sql,
    config,
    logger,
    ports: { connect: 0, grpc: 0 },
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.auth ? { auth: opts.auth } : {}),
    ...(opts.userEvents ? { userEvents: opts.userEvents } : {}),
  });
  const [admin] = await db.sql<{ public_id: string }[]>`
    select public_id from altalune_users where email = ${config.superadminEmail}`;
  const [project] = await db.sql<{ public_id: string }[]>`select public_id from altalune_projects where is_default`;
  if (admin === undefined || project === undefined) throw new Error("seed did not create the superadmin and default project");
  const rootToken = await issuer.token({
    sub: admin.public_id,
    perms: ["root"],
    memberships: { [project.public_id]: "owner" },
    expiresIn: 24 * 3600,
  });
  const baseUrl = `http://127.0.0.1:${server.connectPort}/api`;
  const grpcAddress = `127.0.0.1:${server.grpcPort}`;
  const closers: Array<() => void> = [];

  const transports: Record<Exclude<TransportName, "grpc-js">, (interceptors: Interceptor[]) => Transport> = {
    "connect-json": (interceptors) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors }),
    "connect-binary": (interceptors) => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors }),
    "grpc-web": (interceptors) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors }),
    "grpc-connect-port": (interceptors) => createGrpcTransport({ baseUrl, interceptors }),
  };

  return {
    db,
    server,
    config,
    baseUrl,
    grpcAddress,
    issuer,
    superadmin: { publicId: admin.public_id, email: config.superadminEmail },
    defaultProjectId: project.public_id,
    rootToken,
    token: (spec) => issuer.token(spec),
    client<S extends DescService>(service: S, transport: TransportName, clientOpts: ClientOptions = {}): Client<S> {
      const token = clientOpts.token === undefined ? rootToken : clientOpts.token;
      const headers = { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...clientOpts.headers };
      if (transport === "grpc-js") {
        const c = createGrpcJsClient(service, grpcAddress, headers);
        closers.push(c.close);
        return c.client;
      }
      return createClient(service, transports[transport]([headerInterceptor(headers)]));
    },
    async close() {
      for (const close of closers) close();
      await server.close();
      if (ownsIssuer) await issuer.close();
      if (ownsDb) await db.drop();
    },
  };
}
