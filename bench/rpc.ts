// Per-call cost of the Resources API over each transport, measured from a client process against
// a server process (`altalune serve`), both on this machine. Appends a dated table to
// bench/RESULTS.md. Every call is authenticated with a root access token (warm verification
// cache), signed by a test issuer whose JWKS the server fetches. Run: pnpm bench [--seconds 5] [--concurrency 16]
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createLogger, loadConfig } from "@altalune/core";
import { createPool, migrateUp, runPostMigrate } from "@altalune/db";
import { seed } from "@altalune/resources";
import { ProjectService } from "@altalune/proto";
import { createGrpcJsClient } from "@altalune/rpc";
import { TestIssuer } from "@altalune/resources/testing";
import { publish, sectionHeading, startBenchDatabase } from "./support.js";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "5" }, concurrency: { type: "string", default: "16" } },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const root = fileURLToPath(new URL("..", import.meta.url));


async function startServer(databaseUrl: string, issuer: string) {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "apps/cli/src/main.ts"), "serve"], {
    env: { ...process.env, DATABASE_URL: databaseUrl, RESOURCES_PORT: "0", GRPC_PORT: "0", LOG_LEVEL: "warn", AUTH_ISSUER: issuer },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const ports = await new Promise<{ connect: number; grpc: number }>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const c = /Resources API .*:(\d+)\/api/.exec(out);
      const g = /Native gRPC .*:(\d+)/.exec(out);
      if (c?.[1] && g?.[1]) resolve({ connect: Number(c[1]), grpc: Number(g[1]) });
    });
    child.once("close", () => reject(new Error(`server exited:\n${out}`)));
  });
  return { ports, stop: () => new Promise<void>((r) => (child.once("close", () => r()), child.kill("SIGTERM"))) };
}

interface Result {
  transport: string;
  rpc: string;
  calls: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function measure(transport: string, rpc: string, call: () => Promise<unknown>): Promise<Result> {
  const warmupEnd = Date.now() + 1000;
  const latencies: number[] = [];
  let measuring = false;
  let end = 0;
  const worker = async () => {
    for (;;) {
      const now = Date.now();
      if (!measuring && now >= warmupEnd) {
        measuring = true;
        end = now + seconds * 1000;
      }
      if (measuring && now >= end) return;
      const t = performance.now();
      await call();
      if (measuring) latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { transport, rpc, calls: latencies.length, perSecond: latencies.length / seconds, p50: q(0.5), p99: q(0.99) };
}

async function main() {
  const db = await startBenchDatabase();
  const sql = createPool(db.url, { max: 2 });
  await migrateUp(sql);
  await runPostMigrate(sql);
  const config = loadConfig({ LOG_LEVEL: "silent" });
  await seed(sql, createLogger({ level: "silent" }), config);
  const [admin] = await sql<{ public_id: string }[]>`select public_id from altalune_users where email = ${config.superadminEmail}`;
  const issuer = await TestIssuer.start();
  const token = await issuer.token({ sub: admin!.public_id, perms: ["root"], expiresIn: 3600 });
  const server = await startServer(db.url, issuer.url);
  const [version] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
  await sql.end();
  try {
    const baseUrl = `http://127.0.0.1:${server.ports.connect}/api`;
    const authorization = `Bearer ${token}`;
    const interceptors: Interceptor[] = [(next) => (req) => (req.header.set("authorization", authorization), next(req))];
    const grpcJs = createGrpcJsClient(ProjectService, `127.0.0.1:${server.ports.grpc}`, { authorization });
    const clients: Array<[string, Client<typeof ProjectService>]> = [
      ["Connect JSON (HTTP/1.1)", createClient(ProjectService, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors }))],
      ["Connect binary (h2c)", createClient(ProjectService, createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors }))],
      ["gRPC-Web (HTTP/1.1)", createClient(ProjectService, createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors }))],
      ["gRPC on :3100 (connect-node)", createClient(ProjectService, createGrpcTransport({ baseUrl, interceptors }))],
      ["gRPC on :3101 (grpc-js)", grpcJs.client],
    ];
    const created = await clients[0]![1].createProject({ name: `Bench ${Date.now()}`, timezone: "UTC", environment: "sandbox" });
    const id = created.project!.id;
    const results: Result[] = [];
    for (const [name, client] of clients) {
      results.push(await measure(name, "GetProject", () => client.getProject({ id })));
      results.push(
        await measure(name, "QueryProjects (page of 10)", () =>
          client.queryProjects({ query: { pagination: { page: 1, pageSize: 10 }, keyword: "bench", filters: {} } }),
        ),
      );
      process.stderr.write(`done: ${name}\n`);
    }
    grpcJs.close();
    const header = [
      sectionHeading("Resources API calls per transport", version?.v ?? "?"),      "",
      `Client and server in separate processes on one machine; ${concurrency} concurrent calls, ${seconds} s per row after 1 s warm-up; every call carries a root JWT (warm verification cache).`,
      "",
      "| transport | RPC | calls/s | p50 ms | p99 ms |",
      "|---|---|---:|---:|---:|",
    ];
    const rows = results.map(
      (r) => `| ${r.transport} | ${r.rpc} | ${Math.round(r.perSecond)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`,
    );
    await publish([...header, ...rows]);
  } finally {
    await server.stop();
    await issuer.close();
    await db.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
