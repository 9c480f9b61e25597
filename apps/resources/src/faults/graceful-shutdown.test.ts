import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { ConfigService } from "@altalune/proto";
import { createGrpcJsClient } from "@altalune/rpc";

// SIGTERM under load on both ports of a real `altalune serve` process: readiness turns 503 first,
// calls keep being served through the drain window, every call sent before the signal succeeds,
// and the process exits 0 within SHUTDOWN_TIMEOUT_MS.
const MAIN = fileURLToPath(new URL("../../../cli/src/main.ts", import.meta.url));
let db: TestDatabase | undefined;
afterAll(() => db?.drop());

describe("graceful shutdown", () => {
  it("SIGTERM under load: readiness 503 at once, 0 failed calls sent before the signal, exit 0 in time", async () => {
    db = await createTestDatabase();
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, "serve"], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        RESOURCES_PORT: "0",
        GRPC_PORT: "0",
        LOG_LEVEL: "warn",
        SHUTDOWN_DRAIN_MS: "600",
        SHUTDOWN_TIMEOUT_MS: "5000",
      },
    });
    let out = "";
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const ports = await new Promise<{ connect: number; grpc: number }>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const c = /Resources API .*:(\d+)\/api/.exec(out);
        const g = /Native gRPC .*:(\d+)/.exec(out);
        if (c?.[1] && g?.[1]) resolve({ connect: Number(c[1]), grpc: Number(g[1]) });
      });
      child.once("close", () => reject(new Error(`exited before ready:\n${out}`)));
    });
    const baseUrl = `http://127.0.0.1:${ports.connect}`;
    const connect = createClient(ConfigService, createConnectTransport({ baseUrl: `${baseUrl}/api`, httpVersion: "1.1" }));
    const grpc = createGrpcJsClient(ConfigService, `127.0.0.1:${ports.grpc}`, {});
    let signalAt = Infinity;
    let running = true;
    const beforeSignal = { ok: 0, failed: [] as string[] };
    const worker = async (call: () => Promise<unknown>) => {
      while (running) {
        const sentAt = performance.now();
        try {
          await call();
          if (sentAt < signalAt) beforeSignal.ok++;
        } catch (e) {
          if (sentAt < signalAt) beforeSignal.failed.push(String(e));
          else await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const load = Promise.all([
      worker(() => connect.getPublicConfig({})),
      worker(() => connect.getPublicConfig({})),
      worker(() => grpc.client.getPublicConfig({})),
      worker(() => grpc.client.getPublicConfig({})),
    ]);
    await new Promise((r) => setTimeout(r, 500));
    signalAt = performance.now();
    child.kill("SIGTERM");
    // Readiness first: 503 while the port still answers (inside the drain window).
    await new Promise((r) => setTimeout(r, 150));
    expect((await fetch(`${baseUrl}/readyz`)).status).toBe(503);
    const code = await exited;
    const exitMs = performance.now() - signalAt;
    running = false;
    await load;
    grpc.close();
    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(5000 + 2000);
    expect(beforeSignal.failed).toEqual([]);
    expect(beforeSignal.ok).toBeGreaterThan(10);
  }, 30_000);
});
