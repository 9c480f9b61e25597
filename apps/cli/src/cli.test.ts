import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicKey, verify as verifySignature, type JsonWebKey } from "node:crypto";
// The auth server's own test helpers (a relying party, a no-JS browser, an SMTP receiver, seeding).
import { authorizationUrl, Browser, browserLogin, createClient, exchange, relyingParty, startSmtpReceiver } from "@altalune/auth/testing";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { migrateDown, migrateUp } from "@altalune/db";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { createUser, freePort, TEST_ENCRYPTION_KEY } from "@altalune/test-kit";
import { grpcStatus } from "./testing/grpc-status.js";

// The `altalune` command as a user runs it: a real process, a real database, real signals.
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const databases: TestDatabase[] = [];
const MIGRATIONS = readdirSync(fileURLToPath(new URL("../../../migrations/", import.meta.url)))
  .filter((f) => f.endsWith(".sql"))
  .map((f) => f.slice(0, -".sql".length))
  .sort();

const dataDirs: string[] = [];

afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
  await Promise.all(dataDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A free port for the auth server and its issuer URL, and a private data directory (dev secrets, mail log). */
async function authEnv(env: Record<string, string>): Promise<Record<string, string>> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), "altalune-cli-"));
  dataDirs.push(dataDir);
  return { AUTH_PORT: String(port), AUTH_ISSUER: `http://127.0.0.1:${port}`, DATA_DIR: dataDir, ...env };
}

async function emptyDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ empty: true });
  databases.push(db);
  return db;
}

function altalune(args: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
    // No load balancer drains these processes: SIGTERM closes at once (the drain has its own test).
    env: { ...process.env, LOG_LEVEL: "warn", RESOURCES_PORT: "0", GRPC_PORT: "0", WEB_PORT: "0", SHUTDOWN_DRAIN_MS: "0", ...env },
  });
}

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = altalune(args, env);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("altalune CLI", () => {
  it("dev: migrates, seeds, serves the Resources API and the auth server, and shuts down cleanly on SIGTERM", async () => {
    const db = await emptyDatabase();
    const env = await authEnv({ DATABASE_URL: db.url });
    const child = altalune(["dev"], env);
    let stdout = "";
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const baseUrl = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        const m = /Resources API \(Connect, gRPC-Web, gRPC\): (http:\/\/\S+)/.exec(stdout);
        if (m?.[1]) resolve(m[1]);
      });
      child.once("close", () => reject(new Error(`exited before ready:\n${stdout}`)));
    });
    expect(stdout).toMatch(/Native gRPC \(reflection, health\): +127\.0\.0\.1:\d+/);
    expect(stdout).toContain(`Auth server (OAuth 2.0 / OpenID Connect): ${env["AUTH_ISSUER"]}`);
    const discovery = (await (await fetch(`${env["AUTH_ISSUER"]}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
    expect(discovery.jwks_uri).toBe(`${env["AUTH_ISSUER"]}/.well-known/jwks.json`);

    // An operator's token for the seeded superadmin is accepted by the running Resources API.
    const issued = await run(["token", "issue", "--email", "admin@altalune.local", "--ttl", "10m"], env);
    expect(issued.code, issued.stderr).toBe(0);
    const token = issued.stdout.trim();
    const queryUsers = (headers: Record<string, string>) =>
      fetch(`${baseUrl}/altalune.v1.UserService/QueryUsers`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ query: { pagination: { page: 1, pageSize: 10 } } }),
      });
    const authorized = await queryUsers({ authorization: `Bearer ${token}` });
    expect(authorized.status, await authorized.clone().text()).toBe(200);
    expect(((await authorized.json()) as { data: { email: string }[] }).data.map((u) => u.email)).toContain("admin@altalune.local");
    expect((await queryUsers({})).status).toBe(401);

    const res = await fetch(`${baseUrl}/altalune.v1.ProjectService/QueryProjects`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: { pagination: { page: 1, pageSize: 10 } } }),
    });
    const body = (await res.json()) as { data: Array<{ name: string; isDefault: boolean }> };
    expect(body.data).toEqual([expect.objectContaining({ name: "Default Project", isDefault: true })]);
    const ready = await fetch(baseUrl.replace(/\/api$/, "/readyz"));
    expect(ready.status).toBe(200);

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("migrate up twice at once applies each migration once and seeds one default project", async () => {
    const db = await emptyDatabase();
    const results = await Promise.all([run(["migrate", "up"], { DATABASE_URL: db.url }), run(["migrate", "up"], { DATABASE_URL: db.url })]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const applied = await db.sql<{ version: string }[]>`select version from altalune_migrations order by version`;
    expect(applied.map((r) => r.version)).toEqual(MIGRATIONS);
    const defaults = await db.sql`select 1 from altalune_projects where is_default`;
    expect(defaults).toHaveLength(1);
  });

  it("migrate down then up round-trips the real migrations", async () => {
    const db = await emptyDatabase();
    const env = { DATABASE_URL: db.url };
    expect((await run(["migrate", "up", "--skip-seed"], env)).code).toBe(0);
    const down = await run(["migrate", "down", "--steps", String(MIGRATIONS.length)], env);
    expect(down.code, down.stderr).toBe(0);
    const [gone] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_class where relname in ('altalune_projects', 'altalune_example_employees')`;
    expect(gone?.n).toBe(0);
    const [leftover] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relname like 'altalune\\_%' and c.relname not like 'altalune\\_migrations%'`;
    expect(leftover?.n).toBe(0);
    const status = await run(["migrate", "status"], env);
    expect(status.stdout).toMatch(/0001_projects\s+pending/);
    expect((await run(["migrate", "up"], env)).code).toBe(0);
    const after = await run(["migrate", "status"], env);
    expect(after.stdout).toMatch(/0001_projects\s+applied/);
    for (const version of MIGRATIONS) expect(after.stdout).toMatch(new RegExp(`${version}\\s+applied`));
    // The seed ran and its project got its partition after the round trip.
    const parts = await db.sql`
      select 1 from altalune_projects p join pg_class c on c.relname = 'altalune_example_employees_p' || p.id where p.is_default`;
    expect(parts).toHaveLength(1);
  });

  it("identities audit lists identities that the old email rule may have linked (after migration 0015), changing nothing", async () => {
    const db = await emptyDatabase();
    const env = { DATABASE_URL: db.url };
    // The schema before 0015 (migrated in-process: only the audit itself needs the command), and
    // the rows the old code made there: the seed's marker, a registration, an email-matched link.
    await migrateUp(db.sql);
    await migrateDown(db.sql, { steps: MIGRATIONS.filter((v) => v >= "0015").length });
    await db.sql`
      insert into altalune_users (public_id, email, created_at) values
        ('auditvictim234', 'victim@example.test', '2024-01-01T00:00:00Z'),
        ('auditnewbie234', 'newbie@example.test', '2024-03-01T00:00:00Z'),
        ('auditroot23456', 'root@example.test', '2023-01-01T00:00:00Z')`;
    await db.sql`
      insert into altalune_user_identities (public_id, user_id, provider, provider_user_id, email, created_at, last_login_at)
      select 'auditident2342', id, 'acme-idp', 'sub-linked', 'victim@example.test', '2024-02-02T00:00:00Z'::timestamptz, '2024-02-03T00:00:00Z'::timestamptz
      from altalune_users where public_id = 'auditvictim234'
      union all
      select 'auditident2343', id, 'acme-idp', 'sub-registered', 'newbie@example.test', '2024-03-01T00:00:00Z'::timestamptz, null::timestamptz
      from altalune_users where public_id = 'auditnewbie234'
      union all
      select 'auditident2344', id, 'system', 'superadmin', 'root@example.test', '2023-06-01T00:00:00Z'::timestamptz, null::timestamptz
      from altalune_users where public_id = 'auditroot23456'`;
    await migrateUp(db.sql);
    const before = await db.sql`select * from altalune_user_identities order by id`;

    const audit = await run(["identities", "audit"], env);
    expect(audit.code, audit.stderr).toBe(0);
    const lines = audit.stdout.trim().split("\n");
    expect(lines[0]).toBe("user\temail\tprovider\tlinked_by\tuser_created\tidentity_created\tlast_login");
    // Only the identity created after its user; not the registration, not the seed's superadmin marker.
    expect(lines.slice(1)).toEqual([
      ["auditvictim234", "victim@example.test", "acme-idp", "email_match", "2024-01-01T00:00:00.000Z", "2024-02-02T00:00:00.000Z", "2024-02-03T00:00:00.000Z"].join("\t"),
    ]);
    expect(audit.stderr).toContain("1 identity may have been linked by email address alone");
    expect(await db.sql`select linked_by from altalune_user_identities where provider = 'system'`).toEqual([{ linked_by: "seed" }]);
    expect(await db.sql`select * from altalune_user_identities order by id`).toEqual(before);
  });

  it("reports every invalid variable by name and exits non-zero", async () => {
    const r = await run(["serve"], { RESOURCES_PORT: "not-a-port", LOG_LEVEL: "loud", DATABASE_URL: "mysql://x" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/RESOURCES_PORT/);
    expect(r.stderr).toMatch(/LOG_LEVEL/);
    expect(r.stderr).toMatch(/DATABASE_URL/);
  });

  it("refuses to run without DATABASE_URL in production", async () => {
    const env: Record<string, string> = { NODE_ENV: "production" };
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, "serve"], {
      env: Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([k]) => k !== "DATABASE_URL")) as Record<string, string>,
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/DATABASE_URL: required in production/);
  });
  /** `altalune serve-auth` on a fresh database, resolved once it answers (past start-up: its signal handlers are installed once the servers are up). */
  async function authServer(extraEnv: Record<string, string> = {}) {
    const db = await emptyDatabase();
    const env = await authEnv({ DATABASE_URL: db.url, ...extraEnv });
    expect((await run(["migrate", "up", "--skip-seed"], env)).code).toBe(0);
    const child = altalune(["serve-auth"], env);
    let output = "";
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        output += d.toString();
        if (output.includes("Auth server (OAuth 2.0 / OpenID Connect)")) resolve();
      });
      child.once("close", () => reject(new Error(`exited before ready:\n${output}`)));
    });
    expect((await fetch(`${env["AUTH_ISSUER"]}/.well-known/openid-configuration`)).status).toBe(200);
    return { child, exited, issuer: env["AUTH_ISSUER"], output: () => output };
  }

  /** Its drain keeps it shutting down long enough for a second signal to find it still running. */
  const drainingAuthServer = () => authServer({ SHUTDOWN_DRAIN_MS: "3000", SHUTDOWN_TIMEOUT_MS: "10000" });

  it("serve-auth: serves discovery and JWKS, and exits 0 on SIGTERM", async () => {
    const server = await authServer();
    const jwks = (await (await fetch(`${server.issuer}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys).toHaveLength(1);
    server.child.kill("SIGTERM");
    expect(await server.exited, server.output()).toBe(0);
  });

  it("serve-auth: one Ctrl-C delivered twice (the terminal's, then a wrapper's relay) is one graceful shutdown", async () => {
    const server = await drainingAuthServer();
    server.child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 150));
    server.child.kill("SIGINT");
    expect(await server.exited, server.output()).toBe(0);
    expect(server.output()).not.toMatch(/again: exiting now/);
  });

  it("serve-auth: a second signal more than a second after the first exits at once", async () => {
    const server = await drainingAuthServer();
    server.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 1500));
    const second = performance.now();
    server.child.kill("SIGTERM");
    expect(await server.exited, server.output()).toBe(1);
    expect(performance.now() - second).toBeLessThan(1000);
    expect(server.output()).toMatch(/SIGTERM again: exiting now/);
  });

  it("keys rotate and token issue: tokens signed with the current key, carrying the user's claims", async () => {
    const db = await emptyDatabase();
    const env = await authEnv({ DATABASE_URL: db.url });
    expect((await run(["migrate", "up"], env)).code).toBe(0);
    // RS256 verification against the published keys (node:crypto; the CLI has no JOSE library).
    const verify = async (token: string) => {
      const [h = "", p = "", sig = ""] = token.split(".");
      const protectedHeader = JSON.parse(Buffer.from(h, "base64url").toString()) as { alg: string; kid: string; typ: string };
      const payload = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown> & { iat: number; exp: number };
      const rows = await db.sql<{ kid: string; public_jwk: JsonWebKey }[]>`select kid, public_jwk from altalune_auth_signing_keys`;
      const jwk = rows.find((r) => r.kid === protectedHeader.kid)?.public_jwk;
      if (!jwk) throw new Error(`unknown kid ${protectedHeader.kid}`);
      const ok = verifySignature("sha256", Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: "jwk" }), Buffer.from(sig, "base64url"));
      if (!ok || protectedHeader.alg !== "RS256" || protectedHeader.typ !== "at+jwt") throw new Error("bad signature or header");
      expect(payload).toMatchObject({ iss: env["AUTH_ISSUER"], aud: "urn:altalune:api" });
      return { payload, protectedHeader };
    };
    const decodeProtectedHeader = (token: string) => JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString()) as { kid: string };
    const first = await run(["token", "issue", "--email", "admin@altalune.local"], env);
    expect(first.code, first.stderr).toBe(0);
    const { payload, protectedHeader } = await verify(first.stdout.trim());
    const [admin] = await db.sql<{ public_id: string }[]>`select public_id from altalune_users where email = 'admin@altalune.local'`;
    expect(payload).toMatchObject({ sub: admin!.public_id, email_verified: expect.any(Boolean), email: "admin@altalune.local" });
    expect((payload["perms"] as string[]).length).toBeGreaterThan(0);
    expect(Object.values(payload["memberships"] as Record<string, string>)).toContain("owner");
    expect(payload.exp! - payload.iat!).toBe(900);

    const rotated = await run(["keys", "rotate", "--delay-seconds", "0"], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newKid = /new signing key (\S+),/.exec(rotated.stdout)?.[1];
    expect(newKid).toBeDefined();
    const second = await run(["token", "issue", "--email", "admin@altalune.local", "--ttl", "5m"], env);
    expect(decodeProtectedHeader(second.stdout.trim()).kid).toBe(newKid);
    expect(decodeProtectedHeader(second.stdout.trim()).kid).not.toBe(protectedHeader.kid);
    // The old key still verifies the token it signed.
    await expect(verify(first.stdout.trim())).resolves.toBeTruthy();
    const { payload: p2 } = await verify(second.stdout.trim());
    expect(p2.exp! - p2.iat!).toBe(300);

    const unknown = await run(["token", "issue", "--email", "nobody@example.test"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no user with email/);
    const badTtl = await run(["token", "issue", "--email", "admin@altalune.local", "--ttl", "forever"], env);
    expect(badTtl.code).toBe(1);
    expect(badTtl.stderr).toMatch(/--ttl/);
  });
  it("dev: a login through the auth server yields a token the Resources API accepts on the Connect and gRPC ports", async () => {
    const db = await emptyDatabase();
    const smtp = await startSmtpReceiver();
    try {
      const env = await authEnv({ DATABASE_URL: db.url, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString("base64"), SMTP_URL: smtp.url });
      const child = altalune(["dev"], env);
      let stdout = "";
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      const [baseUrl, grpcAddress] = await new Promise<[string, string]>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          stdout += d.toString();
          const api = /Resources API \(Connect, gRPC-Web, gRPC\): (http:\/\/\S+)/.exec(stdout)?.[1];
          const grpc = /Native gRPC \(reflection, health\): +(\S+)/.exec(stdout)?.[1];
          if (api && grpc) resolve([api, grpc]);
        });
        child.once("close", () => reject(new Error(`exited before ready:\n${stdout}`)));
      });
      const user = await createUser(db.sql, { email: "e2e@example.test", firstName: "End", permissions: ["dashboard:read"], projects: [{ name: "E2E Project", role: "member" }] });
      // A third-party app: its token carries the API scopes consented to (∩ the user's permissions).
      const app = await createClient(db.sql, { name: "E2E App", confidential: true, allowedScopes: ["openid", "profile", "email", "dashboard:read"] });
      const rp = await relyingParty(env["AUTH_ISSUER"]!, app);
      const start = await authorizationUrl(rp, app, { scope: "openid profile email dashboard:read" });
      const { callback } = await browserLogin(new Browser(env["AUTH_ISSUER"]!), smtp, start, user.email);
      const tokens = await exchange(rp, start, callback);

      const connect = await fetch(`${baseUrl}/altalune.v1.ProjectService/QueryProjects`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${tokens.access_token}` },
        body: JSON.stringify({ query: { pagination: { page: 1, pageSize: 10 } } }),
      });
      expect(connect.status, await connect.clone().text()).toBe(200);
      const projects = ((await connect.json()) as { data: { id: string; name: string }[] }).data;
      expect(projects.map((p) => p.name)).toEqual(["E2E Project"]);

      expect(await grpcStatus(grpcAddress, `Bearer ${tokens.access_token}`)).toBe("0");
      expect(await grpcStatus(grpcAddress)).toBe("16");

      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      await smtp.close();
    }
  });
});
