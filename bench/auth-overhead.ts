// Per-call cost of the Resources API's auth step, measured in-process on the real components
// (jose verifier against a live JWKS endpoint, PostgreSQL for user state and API keys):
// The request headers are built before the timed calls, as the transport builds them before the
// auth step runs (that cost is the adapter's, in bench:ratios' trivial call).
//   pnpm bench:auth [--calls 20000] [--no-publish]
import { parseArgs } from "node:util";
import { createContextValues, type HandlerContext } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ConfigService, CreateApiKeyRequestSchema, EmployeeService, QueryEmployeesRequestSchema, UserService } from "@altalune/proto";
import { createLogger, loadConfig } from "@altalune/core";
import { createPool, migrateUp, runPostMigrate } from "@altalune/db";
import { authRuleOf, type CallInfo } from "@altalune/rpc";
import { createContainer, seed } from "@altalune/resources";
import { AccessTokenVerifier } from "@altalune/access-tokens";
import { createAuthorizer, TestIssuer, UserStateCache } from "@altalune/resources/testing";
import { operatorContext, publish, sectionHeading, startBenchDatabase } from "./support.js";

const { values } = parseArgs({ options: { calls: { type: "string", default: "20000" }, "no-publish": { type: "boolean", default: false } } });
const calls = Number(values.calls);

function stats(samples: number[]) {
  samples.sort((a, b) => a - b);
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? 0;
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return { mean, p50: q(0.5), p99: q(0.99) };
}

async function main() {
  const db = await startBenchDatabase();
  const sql = createPool(db.url, { max: 4 });
  const issuer = await TestIssuer.start();
  try {
    await migrateUp(sql);
    await runPostMigrate(sql);
    const config = loadConfig({ LOG_LEVEL: "silent", AUTH_ISSUER: issuer.url, ENCRYPTION_KEY: Buffer.alloc(32, 1).toString("base64") });
    const logger = createLogger({ level: "silent" });
    await seed(sql, logger, config);
    const [version] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
    const [admin] = await sql<{ public_id: string }[]>`select public_id from altalune_users where email = ${config.superadminEmail}`;
    const [project] = await sql<{ public_id: string }[]>`select public_id from altalune_projects where is_default`;
    const container = createContainer({ sql, config, logger });
    const key = await container.services.apiKey.createApiKey(
      create(CreateApiKeyRequestSchema, {
        projectId: project!.public_id,
        name: "bench",
        expiration: timestampFromDate(new Date(Date.now() + 86400_000)),
      }),
      operatorContext(),
    );
    const authorize = createAuthorizer({
      tokens: new AccessTokenVerifier({ issuer: issuer.url, audience: config.auth.apiAudience }),
      apiKeys: container.auth.apiKeys,
      users: new UserStateCache(sql),
      cookies: { allowedOrigins: new Set(), cookieName: "access_token" },
    });

    const method = EmployeeService.method.queryEmployees;
    const request = create(QueryEmployeesRequestSchema, { projectId: project!.public_id });
    const callOf = (m: typeof method | typeof ConfigService.method.getPublicConfig | typeof UserService.method.queryUsers): CallInfo => ({
      service: m.parent,
      method: m,
      rule: authRuleOf(m)!,
      requestId: "bench",
      transport: "bench",
    });
    const headersWith = (authorization: string | undefined) => new Headers(authorization === undefined ? {} : { authorization });
    const ctxWith = (requestHeader: Headers) => ({ requestHeader, values: createContextValues() }) as unknown as HandlerContext;

    const rootPerms = { sub: admin!.public_id, perms: ["root"], memberships: { [project!.public_id]: "owner" } };
    const cases: Array<{ name: string; run: (i: number) => Promise<void>; n: number }> = [];
    const publicCall = callOf(ConfigService.method.getPublicConfig);
    const none = headersWith(undefined);
    cases.push({ name: "public RPC (no credentials examined)", n: calls, run: async () => authorize(publicCall, request, ctxWith(none)) });
    const warm = headersWith(`Bearer ${await issuer.token(rootPerms)}`);
    const employeeCall = callOf(method);
    cases.push({ name: "JWT, warm (verified-token cache hit + user-state hit)", n: calls, run: async () => authorize(employeeCall, request, ctxWith(warm)) });
    for (const kid of ["rs-1", "es-1"]) {
      const n = Math.min(calls, 2000);
      const tokens = (await Promise.all(Array.from({ length: n }, () => issuer.token({ ...rootPerms, key: kid })))).map((t) => headersWith(`Bearer ${t}`));
      cases.push({
        name: `JWT, cold (${kid.startsWith("rs") ? "RS256" : "ES256"} signature verified)`,
        n,
        run: async (i) => authorize(employeeCall, request, ctxWith(tokens[i]!)),
      });
    }
    const apiKey = headersWith(`Bearer ${key.keyValue}`);
    cases.push({ name: "API key (two index probes + SHA-256)", n: Math.min(calls, 5000), run: async () => authorize(employeeCall, request, ctxWith(apiKey)) });

    const rows: string[] = [];
    for (const c of cases) {
      for (let i = 0; i < 200; i++) await c.run(i % c.n); // warm-up (JIT, JWKS fetch, caches)
      const samples: number[] = [];
      for (let i = 0; i < c.n; i++) {
        const t = performance.now();
        await c.run(i);
        samples.push((performance.now() - t) * 1000);
      }
      const s = stats(samples);
      rows.push(`| ${c.name} | ${c.n} | ${s.mean.toFixed(1)} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} |`);
      process.stderr.write(`done: ${c.name}\n`);
    }
    const section = [
      sectionHeading("Auth step per call (in-process)", version?.v ?? "?"),
      "",
      "The pipeline's authentication + authorization step alone, sequential calls, after 200 warm-up calls (microseconds).",
      "Cold JWT rows use a fresh token per call (each pays a signature verification); warm calls reuse one token.",
      "",
      "| case | calls | mean µs | p50 µs | p99 µs |",
      "|---|---:|---:|---:|---:|",
      ...rows,
    ];
    if (values["no-publish"]) process.stdout.write(`${section.join("\n")}\n`);
    else await publish(section);
  } finally {
    await sql.end();
    await issuer.close();
    await db.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
