import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The `altalune` command as a user runs it: real processes on real ports (tests of several processes). */
export const CLI_MAIN = fileURLToPath(new URL("../../../cli/src/main.ts", import.meta.url));

/** A private DATA_DIR per test file (dev secrets, mail log); remove() deletes it. */
export async function dataDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "altalune-proc-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

function spawnCli(args: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ["--import", "tsx", CLI_MAIN, ...args], {
    env: { ...process.env, LOG_LEVEL: "warn", RESOURCES_PORT: "0", GRPC_PORT: "0", ...env },
  });
}

/** Runs a one-shot command to its end. */
export function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(args, env);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

export interface ServerProcess {
  /** The first capture group of each ready pattern, in order. */
  readonly found: string[];
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** The banner lines the servers print once they listen. */
export const READY = {
  resources: /Resources API \(Connect, gRPC-Web, gRPC\): (http:\/\/\S+)/,
  grpc: /Native gRPC \(reflection, health\): +(\S+)/,
  auth: /Auth server \(OAuth 2\.0 \/ OpenID Connect\): (http:\/\/\S+)/,
} as const;

/** Starts a serving command and resolves once every pattern has appeared on stdout. */
export async function startServerProcess(args: string[], env: Record<string, string>, patterns: RegExp[], timeoutMs = 30_000): Promise<ServerProcess> {
  const child = spawnCli(args, env);
  let out = "";
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const found = await new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${args.join(" ")}: not ready within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const matches = patterns.map((p) => p.exec(out)?.[1]);
      if (matches.every((m) => m !== undefined)) {
        clearTimeout(timer);
        resolve(matches as string[]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(" ")} exited (${code}) before ready:\n${out}`));
    });
  });
  let stopping: Promise<number | null> | undefined;
  return {
    found,
    output: () => out,
    stop() {
      stopping ??= (async () => {
        child.kill("SIGTERM");
        const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
        const code = await exited;
        clearTimeout(force);
        return code;
      })();
      return stopping;
    },
  };
}
