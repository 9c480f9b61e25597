import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import postgres from "postgres";
import { startEmbeddedPostgres } from "./embedded.js";

const isRoot = process.getuid?.() === 0;

describe("embedded PostgreSQL", () => {
  // As root the server runs as `postgres`; a checkout under a private directory (mktemp, /root)
  // must still work, as on a CI machine that clones into one.
  it.runIf(isRoot)("starts from a data dir under a 0700 directory, making it traversable", async () => {
    const privateDir = await mkdtemp(join(tmpdir(), "altalune-private-"));
    await chmod(privateDir, 0o700);
    const warnings: string[] = [];
    const server = await startEmbeddedPostgres({
      dataDir: join(privateDir, "pg"),
      persistent: false,
      logger: { info: () => {}, warn: (m) => warnings.push(m) },
    });
    try {
      const sql = postgres(server.url, { max: 1, onnotice: () => {} });
      const [row] = await sql<{ one: number }[]>`select 1 as one`;
      await sql.end();
      expect(row?.one).toBe(1);
      expect((await stat(privateDir)).mode & 0o777).toBe(0o701);
      expect(warnings.join("\n")).toContain(`made ${privateDir} traversable`);
    } finally {
      await server.stop();
      await rm(privateDir, { recursive: true, force: true });
    }
  });
});
