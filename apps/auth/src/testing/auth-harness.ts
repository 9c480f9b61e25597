import { randomUUID } from "node:crypto";
import { createLogger, loadConfig, newPublicId, randomSecret, sealSecret, type Config } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { oauthClientSecretContext } from "@altalune/oauth-tables";
import { freePort, TEST_API_AUDIENCE, TEST_ENCRYPTION_KEY } from "@altalune/test-kit";
import { startSmtpReceiver, type SmtpReceiver } from "../mail/testing.js";
import { startAuthServer, type AuthServer, type StartAuthServerOptions } from "../server.js";

// Re-exported: the auth tests, the CLI's and the benchmarks (bench/) take them from here.
export { createUser, freePort, TEST_API_AUDIENCE, TEST_ENCRYPTION_KEY, type TestUser } from "@altalune/test-kit";

export function testAuthConfig(port: number, extra: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    SHUTDOWN_TIMEOUT_MS: "2000",
    // Tests close their servers without a load balancer to drain.
    SHUTDOWN_DRAIN_MS: "0",
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString("base64"),
    AUTH_PORT: String(port),
    AUTH_ISSUER: `http://127.0.0.1:${port}`,
    API_AUDIENCE: TEST_API_AUDIENCE,
    ...extra,
  });
}

export interface TestClient {
  clientId: string;
  clientSecret: string | undefined;
  redirectUri: string;
}

export interface TestAuth {
  db: TestDatabase;
  sql: Sql;
  config: Config;
  server: AuthServer;
  issuer: string;
  smtp: SmtpReceiver;
  /** Starts another server on the same database (replicas). */
  startReplica(opts?: Partial<StartAuthServerOptions>): Promise<AuthServer>;
  close(): Promise<void>;
}

export async function startTestAuth(
  opts: { env?: Record<string, string>; server?: Partial<StartAuthServerOptions>; db?: TestDatabase; port?: number } = {},
): Promise<TestAuth> {
  const db = opts.db ?? (await createTestDatabase({ max: 10 }));
  const smtp = await startSmtpReceiver();
  // A given port lets a test register redirect URIs at an upstream before this server starts.
  const port = opts.port ?? (await freePort());
  const config = testAuthConfig(port, { SMTP_URL: smtp.url, ...opts.env });
  const logger = createLogger({ level: "silent" });
  const server = await startAuthServer({ sql: db.sql, config, logger, port, ...opts.server });
  const replicas: AuthServer[] = [];
  return {
    db,
    sql: db.sql,
    config,
    server,
    issuer: config.auth.issuer,
    smtp,
    async startReplica(extra = {}) {
      const replica = await startAuthServer({ sql: db.sql, config, logger, port: 0, ...opts.server, ...extra });
      replicas.push(replica);
      return replica;
    },
    async close() {
      await Promise.all([server.close(), ...replicas.map((r) => r.close())]);
      await smtp.close();
      if (!opts.db) await db.drop();
    },
  };
}

export async function createClient(
  sql: Sql,
  spec: {
    name?: string;
    confidential?: boolean;
    redirectUris?: string[];
    postLogoutRedirectUris?: string[];
    allowedScopes?: string[];
    pkceRequired?: boolean;
    isDefault?: boolean;
  } = {},
): Promise<TestClient> {
  const clientId = randomUUID();
  const confidential = spec.confidential ?? true;
  const clientSecret = confidential ? randomSecret(32) : undefined;
  const redirectUris = spec.redirectUris ?? ["https://app.example.test/callback"];
  await sql`
    insert into altalune_oauth_clients
      (public_id, name, client_id, client_secret_sealed, redirect_uris, post_logout_redirect_uris, allowed_scopes,
       pkce_required, is_default, confidential)
    values (${newPublicId()}, ${spec.name ?? "Test App"}, ${clientId},
            ${clientSecret === undefined ? null : sealSecret(TEST_ENCRYPTION_KEY, clientSecret, oauthClientSecretContext(clientId))},
            ${redirectUris}, ${spec.postLogoutRedirectUris ?? []},
            ${spec.allowedScopes ?? ["openid", "profile", "email", "offline_access"]},
            ${spec.pkceRequired ?? true}, ${spec.isDefault ?? false}, ${confidential})`;
  return { clientId, clientSecret, redirectUri: redirectUris[0]! };
}
