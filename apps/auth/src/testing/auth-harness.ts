import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { createLogger, loadConfig, newPublicId, randomSecret, sealSecret, type Config } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { startSmtpReceiver, type SmtpReceiver } from "../mail/testing.js";
import { clientSecretContext } from "../provider/client-store.js";
import { startAuthServer, type AuthServer, type StartAuthServerOptions } from "../server.js";

/** Fixed secrets for tests (never used outside them). */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7);
export const TEST_API_AUDIENCE = "urn:altalune:api";

/** A port that was free a moment ago: the issuer URL must be known before the server starts. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

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

export interface TestUser {
  id: string;
  publicId: string;
  email: string;
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

export async function createUser(
  sql: Sql,
  spec: {
    email: string;
    active?: boolean;
    firstName?: string;
    lastName?: string;
    emailVerified?: boolean;
    permissions?: string[];
    roles?: { name: string; permissions: string[] }[];
    projects?: { name: string; role: string }[];
  },
): Promise<TestUser & { projects: Record<string, string> }> {
  const [user] = await sql<{ id: string; public_id: string }[]>`
    insert into altalune_users (public_id, email, first_name, last_name, is_active, email_verified)
    values (${newPublicId()}, ${spec.email}, ${spec.firstName ?? ""}, ${spec.lastName ?? ""}, ${spec.active ?? true}, ${spec.emailVerified ?? false})
    returning id, public_id`;
  if (!user) throw new Error("user not created");
  const permissionId = async (name: string) => {
    const [row] = await sql<{ id: string }[]>`
      insert into altalune_permissions (public_id, name) values (${newPublicId()}, ${name})
      on conflict (lower(name)) do update set name = excluded.name returning id`;
    return row!.id;
  };
  for (const name of spec.permissions ?? []) {
    await sql`insert into altalune_users_permissions (user_id, permission_id) values (${user.id}, ${await permissionId(name)})`;
  }
  for (const role of spec.roles ?? []) {
    const [r] = await sql<{ id: string }[]>`
      insert into altalune_roles (public_id, name) values (${newPublicId()}, ${role.name})
      on conflict (lower(name)) do update set name = excluded.name returning id`;
    for (const p of role.permissions) {
      await sql`insert into altalune_roles_permissions (role_id, permission_id) values (${r!.id}, ${await permissionId(p)}) on conflict do nothing`;
    }
    await sql`insert into altalune_users_roles (user_id, role_id) values (${user.id}, ${r!.id})`;
  }
  const projects: Record<string, string> = {};
  for (const p of spec.projects ?? []) {
    const [proj] = await sql<{ id: string; public_id: string }[]>`
      insert into altalune_projects (public_id, name, timezone) values (${newPublicId()}, ${p.name}, 'UTC') returning id, public_id`;
    await sql`insert into altalune_project_members (project_id, user_id, role) values (${proj!.id}, ${user.id}, ${p.role})`;
    projects[proj!.public_id] = p.role;
  }
  return { id: user.id, publicId: user.public_id, email: spec.email, projects };
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
            ${clientSecret === undefined ? null : sealSecret(TEST_ENCRYPTION_KEY, clientSecret, clientSecretContext(clientId))},
            ${redirectUris}, ${spec.postLogoutRedirectUris ?? []},
            ${spec.allowedScopes ?? ["openid", "profile", "email", "offline_access"]},
            ${spec.pkceRequired ?? true}, ${spec.isDefault ?? false}, ${confidential})`;
  return { clientId, clientSecret, redirectUri: redirectUris[0]! };
}
