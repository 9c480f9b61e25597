import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createLogger, loadConfig, type Config, type Logger } from "@altalune/core";
import { runPostMigrate } from "@altalune/db";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import type { Clock } from "../domains/api-key/model.js";
import { seed } from "../seed.js";
import { startResourcesServer, type ResourcesServer } from "../server.js";
import { createGrpcJsClient } from "@altalune/rpc";

/** Every way a client can reach the Resources API; tests run the same table over each. */
export const TRANSPORTS = ["connect-json", "connect-binary", "grpc-web", "grpc-connect-port", "grpc-js"] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** Fixed secrets for tests (never used outside them). */
export const TEST_ENV: Record<string, string> = {
  LOG_LEVEL: "silent",
  NODE_ENV: "test",
  SHUTDOWN_TIMEOUT_MS: "2000",
  ENCRYPTION_KEY: Buffer.alloc(32, 42).toString("base64"),
  DASHBOARD_CLIENT_ID: "6f1c2f4e-5d7a-4b8e-9c3d-2a1b0c9d8e7f",
  DASHBOARD_CLIENT_SECRET: "test-dashboard-secret-0123456789abcdef",
};

export interface TestApi {
  db: TestDatabase;
  server: ResourcesServer;
  config: Config;
  baseUrl: string;
  grpcAddress: string;
  client<S extends DescService>(service: S, transport: TransportName): Client<S>;
  close(): Promise<void>;
}

/**
 * A real Resources API on ephemeral ports over this test file's own database (cloned from the
 * migrated template, then seeded like `altalune dev` does).
 */
export async function startTestApi(
  env: Record<string, string> = {},
  opts: { clock?: Clock; logger?: Logger; db?: TestDatabase } = {},
): Promise<TestApi> {
  // A given database is shared (e.g. a second server with another clock) and left to its owner.
  const ownsDb = opts.db === undefined;
  const db = opts.db ?? (await createTestDatabase());
  await runPostMigrate(db.sql);
  const config = loadConfig({ ...TEST_ENV, ...env });
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  await seed(db.sql, logger, config);
  const server = await startResourcesServer({
    sql: db.sql,
    config,
    logger,
    ports: { connect: 0, grpc: 0 },
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const baseUrl = `http://127.0.0.1:${server.connectPort}/api`;
  const grpcAddress = `127.0.0.1:${server.grpcPort}`;
  const closers: Array<() => void> = [];

  const transports: Record<Exclude<TransportName, "grpc-js">, () => Transport> = {
    "connect-json": () => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    "connect-binary": () => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
    "grpc-web": () => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
    "grpc-connect-port": () => createGrpcTransport({ baseUrl }),
  };

  return {
    db,
    server,
    config,
    baseUrl,
    grpcAddress,
    client<S extends DescService>(service: S, transport: TransportName): Client<S> {
      if (transport === "grpc-js") {
        const c = createGrpcJsClient(service, grpcAddress);
        closers.push(c.close);
        return c.client;
      }
      return createClient(service, transports[transport]());
    },
    async close() {
      for (const close of closers) close();
      await server.close();
      if (ownsDb) await db.drop();
    },
  };
}
