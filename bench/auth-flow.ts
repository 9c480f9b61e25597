// Authorization server throughput on this machine: complete browser logins per second (authorize
// → email form → code from an in-process SMTP server → consent → callback → token exchange, by
// openid-client and a no-JS browser) and refresh-token rotations per second. One auth server
// process, PostgreSQL (embedded unless DATABASE_URL), everything on loopback.
// Run: pnpm exec tsx bench/auth-flow.ts [--logins 200] [--concurrency 8] [--refresh-seconds 10]
import { parseArgs } from "node:util";
import * as oidc from "openid-client";
import { createLogger } from "@altalune/core";
import { createPool, migrateUp, runPostMigrate } from "@altalune/db";
import { startSmtpReceiver } from "../apps/auth/src/mail/testing.js";
import { startAuthServer } from "../apps/auth/src/server.js";
import { createClient, createUser, freePort, testAuthConfig } from "../apps/auth/src/testing/auth-harness.js";
import { Browser } from "../apps/auth/src/testing/browser.js";
import { authorizationUrl, browserLogin, exchange, relyingParty } from "../apps/auth/src/testing/login-flow.js";
import { publish, sectionHeading, startBenchDatabase } from "./support.js";

const { values } = parseArgs({
  options: {
    logins: { type: "string", default: "200" },
    concurrency: { type: "string", default: "8" },
    "refresh-seconds": { type: "string", default: "10" },
  },
});
const logins = Number(values.logins);
const concurrency = Number(values.concurrency);
const refreshSeconds = Number(values["refresh-seconds"]);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

async function main() {
  const db = await startBenchDatabase();
  const sql = createPool(db.url, { max: 20 });
  const smtp = await startSmtpReceiver();
  const port = await freePort();
  const config = testAuthConfig(port, { SMTP_URL: smtp.url, DB_POOL_MAX: "20" });
  await migrateUp(sql);
  await runPostMigrate(sql);
  const server = await startAuthServer({
    sql,
    config,
    logger: createLogger({ level: "silent" }),
    port,
    // Every login comes from 127.0.0.1: lift the per-IP limit, keep the code itself real.
    loginCodeLimits: { perIp: { limit: 1_000_000, windowSeconds: 60 }, perEmail: { limit: 1_000, windowSeconds: 60 } },
  });
  try {
    const [{ version } = { version: "?" }] = await sql<{ version: string }[]>`select current_setting('server_version') as version`;
    const client = await createClient(sql, { name: "Bench", confidential: true });
    const rp = await relyingParty(config.auth.issuer, client);
    const users: { email: string }[] = [];
    for (let i = 0; i < logins; i++) {
      users.push(await createUser(sql, { email: `bench-${i}@example.test`, permissions: ["project:read"], projects: [{ name: `Bench ${i}`, role: "owner" }] }));
    }

    // Full logins.
    const refreshTokens: string[] = [];
    const loginMs: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < logins; i = next++) {
          const t = performance.now();
          const start = await authorizationUrl(rp, client, { scope: "openid profile email offline_access", prompt: "consent" });
          const { callback } = await browserLogin(new Browser(config.auth.issuer), smtp, start, users[i]!.email);
          const tokens = await exchange(rp, start, callback);
          refreshTokens.push(tokens.refresh_token!);
          loginMs.push(performance.now() - t);
        }
      }),
    );
    const loginSeconds = (performance.now() - t0) / 1000;
    loginMs.sort((a, b) => a - b);

    // Refresh rotations: each worker keeps rotating its own chain.
    const refreshMs: number[] = [];
    const deadline = performance.now() + refreshSeconds * 1000;
    const t1 = performance.now();
    await Promise.all(
      refreshTokens.slice(0, concurrency).map(async (first) => {
        let token = first;
        while (performance.now() < deadline) {
          const t = performance.now();
          const res = await oidc.refreshTokenGrant(rp, token);
          token = res.refresh_token!;
          refreshMs.push(performance.now() - t);
        }
      }),
    );
    const refreshElapsed = (performance.now() - t1) / 1000;
    refreshMs.sort((a, b) => a - b);

    await publish([
      sectionHeading("Auth server: logins and refreshes", version ?? "?"),
      "",
      `Client and one auth server in one process, ${concurrency} concurrent workers. A login is the whole browser flow with consent: ` +
        "authorization request → email form → code from the SMTP receiver → code form → consent → callback → token exchange (10 HTTP requests, 1 mail).",
      "",
      "| what | count | per second | p50 ms | p99 ms |",
      "|---|---:|---:|---:|---:|",
      `| full login | ${logins} | ${(logins / loginSeconds).toFixed(1)} | ${percentile(loginMs, 0.5).toFixed(0)} | ${percentile(loginMs, 0.99).toFixed(0)} |`,
      `| refresh (rotation) | ${refreshMs.length} | ${(refreshMs.length / refreshElapsed).toFixed(0)} | ${percentile(refreshMs, 0.5).toFixed(1)} | ${percentile(refreshMs, 0.99).toFixed(1)} |`,
    ]);
  } finally {
    await server.close();
    await smtp.close();
    await sql.end({ timeout: 5 });
    await db.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
