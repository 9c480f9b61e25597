import { appendFile, chmod, mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startEmbeddedPostgres } from "@altalune/db";

const RESULTS = fileURLToPath(new URL("./RESULTS.md", import.meta.url));

/** DATABASE_URL's server, else a throwaway embedded PostgreSQL. */
export async function startBenchDatabase(): Promise<{ url: string; stop(): Promise<void> }> {
  const given = process.env["DATABASE_URL"];
  if (given) return { url: given, stop: async () => {} };
  const dir = await mkdtemp(join(tmpdir(), "altalune-bench-"));
  await chmod(dir, 0o755); // as root, the embedded server runs as `postgres`, who must reach its data dir
  const pg = await startEmbeddedPostgres({ dataDir: join(dir, "pg"), persistent: false });
  return {
    url: pg.url,
    stop: async () => {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** "2026-11-22 — <title> — 2 × CPU, 24 GiB, Node vX, PostgreSQL Y": every section names its machine. */
export function sectionHeading(title: string, postgresVersion: string): string {
  const cpu = cpus();
  const date = new Date().toISOString().slice(0, 10);
  const machine = `${cpu.length} × ${cpu[0]?.model ?? "unknown CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
  return `## ${date} — ${title} — ${machine}, Node ${process.version}, PostgreSQL ${postgresVersion}`;
}

/** Appends a section to bench/RESULTS.md and echoes it. */
export async function publish(lines: readonly string[]): Promise<void> {
  const text = ["", ...lines, ""].join("\n");
  await appendFile(RESULTS, text);
  process.stdout.write(text);
}

export { operatorContext } from "@altalune/resources";
