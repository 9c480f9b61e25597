// Migration files on disk: `NNNN_description.sql` with `-- migrate:up` / `-- migrate:down` parts.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's `migrations/` directory. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL("../../../migrations/", import.meta.url));

export interface Migration {
  /** File name without `.sql`, e.g. `0001_projects`. */
  version: string;
  fileName: string;
  path: string;
  /** sha256 (hex) of the whole file. */
  checksum: string;
  up: string;
  down: string;
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

const FILE_NAME = /^(\d+)_[A-Za-z0-9_.-]+\.sql$/;
const MARKER = /^--\s*migrate:(up|down)\s*$/;

/** Splits a migration file into its up and down parts. */
export function parseMigration(fileName: string, text: string): { up: string; down: string } {
  const parts: Record<"head" | "up" | "down", string[]> = { head: [], up: [], down: [] };
  let section: "head" | "up" | "down" = "head";
  const seen = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const marker = MARKER.exec(line.trim())?.[1];
    if (marker === "up" || marker === "down") {
      if (seen.has(marker)) throw new MigrationError(`${fileName}: duplicate "-- migrate:${marker}" marker`);
      if (marker === "up" && seen.has("down")) {
        throw new MigrationError(`${fileName}: "-- migrate:up" must come before "-- migrate:down"`);
      }
      seen.add(marker);
      section = marker;
      continue;
    }
    parts[section].push(line);
  }
  if (!seen.has("up")) throw new MigrationError(`${fileName}: missing "-- migrate:up" marker`);
  // SQL above the up marker would otherwise be silently ignored.
  if (!isBlankSql(parts.head.join("\n"))) {
    throw new MigrationError(`${fileName}: SQL found before the "-- migrate:up" marker`);
  }
  return { up: parts.up.join("\n").trim(), down: parts.down.join("\n").trim() };
}

/** True when the text holds nothing but whitespace and comments. */
export function isBlankSql(text: string): boolean {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/--[^\n]*/g, "").trim() === "";
}

/** Reads and parses every migration in `dir`, sorted by file name. */
export async function loadMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<Migration[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new MigrationError(`cannot read migrations directory ${dir}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const sqlFiles = names.filter((n) => n.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const fileName of sqlFiles) {
    // A typo in a name must not make a migration silently disappear.
    if (!FILE_NAME.test(fileName)) {
      throw new MigrationError(`${fileName}: migration files must be named NNNN_description.sql`);
    }
    const path = join(dir, fileName);
    const bytes = await readFile(path);
    const { up, down } = parseMigration(fileName, bytes.toString("utf8"));
    migrations.push({
      version: fileName.slice(0, -".sql".length),
      fileName,
      path,
      checksum: createHash("sha256").update(bytes).digest("hex"),
      up,
      down,
    });
  }
  return migrations;
}
