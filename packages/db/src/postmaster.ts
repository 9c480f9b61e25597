// What a data dir's postmaster.pid says about the server running on it, if any.
import { readFile, unlink } from "node:fs/promises";
import { connect } from "node:net";
import { resolve } from "node:path";
import type { DbLogger } from "./pool.js";

interface PostmasterPid {
  pid: number;
  port: number;
  status: string;
}

/** postmaster.pid lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status. */
async function readPostmasterPid(dataDir: string): Promise<PostmasterPid | undefined> {
  let text: string;
  try {
    text = await readFile(resolve(dataDir, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  return {
    pid: Number.parseInt(lines[0] ?? "", 10),
    port: Number.parseInt(lines[3] ?? "", 10),
    status: (lines[7] ?? "").trim(),
  };
}

/** Removes a postmaster.pid that no running server owns; a missing one is fine. */
export async function removePostmasterPid(dataDir: string): Promise<void> {
  await unlink(resolve(dataDir, "postmaster.pid")).catch(() => {});
}

/**
 * After a crash or reboot the pid in postmaster.pid may be dead or reused by
 * an unrelated process; only a live process named postgres counts.
 */
async function isPostgresProcess(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (e instanceof Error && "code" in e && e.code === "EPERM") return true;
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state …"; a zombie is as good as dead.
    const statLine = await readFile(`/proc/${pid}/stat`, "utf8");
    const match = /^\d+ \((.*)\) (\S)/.exec(statLine);
    return match?.[1] === "postgres" && match[2] !== "Z";
  } catch {
    // No /proc (macOS): trust the live pid.
    return true;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Returns the port of a server already running on `dataDir` (e.g. an
 * orphan left by a killed dev process, or another dev process), or
 * undefined after clearing a stale postmaster.pid.
 */
export async function runningServerPort(dataDir: string, logger: DbLogger): Promise<number | undefined> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const info = await readPostmasterPid(dataDir);
    if (!info) return undefined;
    if (!(await isPostgresProcess(info.pid))) {
      logger.warn(`removing stale postmaster.pid (pid ${info.pid} is not running) in ${dataDir}`);
      await removePostmasterPid(dataDir);
      return undefined;
    }
    // A postmaster that was just killed can still be listed as ready.
    if (info.status === "ready" && (await acceptsConnections(info.port))) return info.port;
    // Starting up or shutting down: wait for it to settle either way.
    if (Date.now() > deadline) {
      throw new Error(`PostgreSQL pid ${info.pid} on ${dataDir} is stuck in state "${info.status}"`);
    }
    await sleep(200);
  }
}

function acceptsConnections(port: number): Promise<boolean> {
  if (!Number.isInteger(port) || port <= 0) return Promise.resolve(false);
  return new Promise((resolveOk) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolveOk(true);
    });
    socket.once("error", () => resolveOk(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolveOk(false);
    });
  });
}
