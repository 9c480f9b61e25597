import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A real PgBouncer (the Debian package's binary) in transaction pooling mode in front of one
 * PostgreSQL server, on a free loopback port, for tests and benchmarks. Its ini and userlist live
 * in a temp directory that close() removes.
 */
export interface PgBouncer {
  readonly port: number;
  /** The same database URL (user, password, database) through the bouncer. */
  urlFor(databaseUrl: string): string;
  /** PgBouncer's own log, for failure messages. */
  log(): Promise<string>;
  close(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Server connections per database and user (default_pool_size). Default 4. */
  poolSize?: number;
}

export const PGBOUNCER_INSTALL_HINT =
  "pgbouncer is not installed: install it with `apt-get install -y pgbouncer` (Debian/Ubuntu; .ci/run does this in CI)";

function findBinary(): string {
  for (const dir of (process.env["PATH"] ?? "").split(":").concat(["/usr/sbin", "/usr/local/sbin"])) {
    const candidate = join(dir, "pgbouncer");
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  throw new Error(PGBOUNCER_INSTALL_HINT);
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** userlist.txt quoting: a double quote is written twice. */
const quoted = (s: string) => `"${s.replaceAll('"', '""')}"`;

export async function startPgBouncer(serverUrl: string, opts: PgBouncerOptions = {}): Promise<PgBouncer> {
  const binary = findBinary();
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || "postgres");
  const password = decodeURIComponent(server.password);
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "altalune-pgbouncer-"));
  // PgBouncer refuses to run as root; as root it is started as "postgres" (-u), who must read here.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await chmod(dir, 0o755);
  const ini = join(dir, "pgbouncer.ini");
  const logFile = join(dir, "pgbouncer.log");
  await writeFile(
    ini,
    [
      "[databases]",
      // Every database name is forwarded to the same server under the same name.
      `* = host=${server.hostname} port=${server.port || "5432"}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      // Clients on loopback are not authenticated; the bouncer logs into the server with the
      // userlist's password (SCRAM or trust, whatever the server asks).
      "auth_type = trust",
      `auth_file = ${join(dir, "userlist.txt")}`,
      "pool_mode = transaction",
      `default_pool_size = ${opts.poolSize ?? 4}`,
      "max_client_conn = 500",
      `logfile = ${logFile}`,
      `pidfile = ${join(dir, "pgbouncer.pid")}`,
      "",
    ].join("\n"),
    { mode: 0o644 },
  );
  await writeFile(join(dir, "userlist.txt"), `${quoted(user)} ${quoted(password)}\n`, { mode: 0o644 });
  if (asRoot) {
    // The log and pid files are created by the unprivileged user.
    spawnSync("chown", ["postgres", dir]);
  }

  const child: ChildProcess = spawn(binary, [...(asRoot ? ["-u", "postgres"] : []), ini], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  const log = async () => `${output}${await readFile(logFile, "utf8").catch(() => "")}`;

  const started = performance.now();
  while (!(await accepts(port))) {
    if (exited || performance.now() - started > 10_000) {
      child.kill("SIGKILL");
      const text = await log();
      await rm(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer did not start on port ${port}:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }

  let closing: Promise<void> | undefined;
  return {
    port,
    urlFor(databaseUrl: string) {
      const u = new URL(databaseUrl);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    log,
    close() {
      closing ??= (async () => {
        // SIGTERM: immediate shutdown (SIGINT would wait for clients to disconnect).
        if (!exited) child.kill("SIGTERM");
        await Promise.race([exit, new Promise((r) => setTimeout(r, 5000))]);
        if (!exited) child.kill("SIGKILL");
        await rm(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
