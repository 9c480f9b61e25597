import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import * as api from "@altalune/proto";
import { servicesIn } from "@altalune/rpc";
import { DOMAINS, DOMAIN_SERVICES } from "./domains.js";
import type { DomainModule } from "./shared/domain-module.js";

// domains.ts is the one registration point: every domain folder is listed there and nowhere else,
// every service of the API is served by exactly one listed domain, and no file outside a domain
// (another domain included) reaches into its internals (only its index.ts, for what it exports).
// The container, both ports, the authorization matrix, the escalation test and the audit test
// all read DOMAINS, so a domain added there is covered by all of them.

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const domainsDir = join(here, "domains");
const registry = join(here, "domains.ts");
const folders = readdirSync(domainsDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

function isDomainModule(v: unknown): v is DomainModule {
  return typeof v === "object" && v !== null && "serve" in v && "service" in v && "key" in v;
}

/** Every hand-written TypeScript file of the workspace (generated code aside). */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" || e.name === "gen" || e.name.startsWith(".") ? [] : sources(path);
    return /\.[mc]?tsx?$/.test(e.name) ? [path] : [];
  });
}

// Every module specifier, whatever the clause before it holds (comments, quotes, line breaks):
// `… from "x"`, a bare `import "x"`, `import("x")` (quotes or a plain template), `require("x")`
// and vitest's `vi.mock("x")`. A path handed to a process (`new URL("../../cli/src/main.ts", …)`,
// to spawn the CLI as a user runs it) is not an import and is not checked.
const SPECIFIER =
  /\bfrom\s*(["'])([^"'\n]+)\1|\bimport\s*\(\s*(["'`])([^"'`\n$]+)\3\s*[,)]|\bimport\s+(["'])([^"'\n]+)\5|\b(?:require|vi\.(?:do)?mock)\(\s*(["'`])([^"'`\n$]+)\7/g;

/** The relative imports of a file, resolved to paths (".js" specifiers name the ".ts" file). */
function importsOf(file: string): { specifier: string; target: string; names: string }[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(SPECIFIER)].flatMap((m) => {
    const specifier = m[2] ?? m[4] ?? m[6] ?? m[8] ?? "";
    if (!specifier.startsWith(".")) return [];
    // What the statement imports: from its import/export keyword to the specifier.
    const at = m.index ?? 0;
    const start = Math.max(text.lastIndexOf("import", at), text.lastIndexOf("export", at), 0);
    return [{ specifier, target: resolve(dirname(file), specifier).replace(/\.js$/, ".ts"), names: text.slice(start, at + m[0].length) }];
  });
}

/** The domain folder a path lies in, if any (a file directly under domains/ is in none). */
function domainOf(path: string): string | undefined {
  const parts = relative(domainsDir, path).split(sep);
  if (parts[0] === ".." || parts.length < 2) return undefined;
  return parts[0];
}

describe("domains.ts, the registration point", () => {
  it("lists every domain folder's module, once, and each folder exports one", async () => {
    const listed = new Set<DomainModule>(DOMAINS);
    expect(listed.size).toBe(DOMAINS.length);
    const found: string[] = [];
    for (const folder of folders) {
      const exported = Object.values(await import(/* @vite-ignore */ join(domainsDir, folder, "index.ts"))).filter(isDomainModule);
      expect(exported, `domains/${folder}/index.ts exports one domain module`).toHaveLength(1);
      if (listed.has(exported[0]!)) found.push(folder);
    }
    expect(found).toEqual(folders);
    expect(new Set(DOMAINS.map((d) => d.key)).size).toBe(DOMAINS.length);
  });

  it("serves every service of the API's descriptors, each by one domain", () => {
    const names = DOMAIN_SERVICES.map((s) => s.typeName);
    expect(names.length).toBe(new Set(names).size);
    expect([...names].sort()).toEqual(servicesIn(api).map((s) => s.typeName).sort());
  });

  it("is the only file outside the domains that imports a domain module, and none reaches into a domain's internals", () => {
    const problems: string[] = [];
    let checked = 0;
    const files = [...sources(join(root, "apps")), ...sources(join(root, "packages")), ...sources(join(root, "bench")), ...sources(join(root, "test"))];
    expect(files).toContain(registry);
    for (const file of files) {
      const own = domainOf(file);
      if (own !== undefined) continue; // a domain's files: the next test checks those
      for (const { specifier, target, names } of importsOf(file)) {
        const domain = domainOf(target);
        if (domain === undefined) continue;
        checked++;
        const where = `${relative(root, file)} imports ${specifier}`;
        if (target !== join(domainsDir, domain, "index.ts")) problems.push(`${where}: a domain's internals (import its index.ts)`);
        if (file !== registry && /\b\w+Domain\b/.test(names)) problems.push(`${where}: a domain module, which only domains.ts registers`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked, "imports of the domains from outside them were found and checked").toBeGreaterThan(DOMAINS.length);
  });

  it("a domain imports another domain only through that domain's index.ts", () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of sources(domainsDir)) {
      const own = domainOf(file);
      for (const { specifier, target } of importsOf(file)) {
        const domain = domainOf(target);
        if (domain === undefined || domain === own) continue;
        checked++;
        if (target !== join(domainsDir, domain, "index.ts")) problems.push(`${relative(root, file)} imports ${specifier}: another domain's internals (import its index.ts)`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked, "imports between domains were found and checked").toBeGreaterThan(0);
  });

  it("the container and the ports name no domain: they read DOMAINS", () => {
    for (const file of ["container.ts", "server.ts"]) {
      const text = readFileSync(join(here, file), "utf8");
      expect(text, file).not.toMatch(/from "@altalune\/proto"/);
      expect(text, file).not.toMatch(/\bregistration\(/);
    }
  });
});

// Issue 17: the apps meet through their packages' exports (`@altalune/auth/testing`, …), never
// through each other's files, so an app's internals can move without breaking another app; a test
// that drives two apps lives in the root test/ folder, not inside one of them.
describe("apps import each other only through package exports", () => {
  const appsDir = join(root, "apps");
  const appOf = (path: string) => {
    const parts = relative(appsDir, path).split(sep);
    return parts[0] === ".." || parts.length < 2 ? undefined : parts[0];
  };

  it("no file of an app, of packages/, bench/ or test/ imports another app's files by a relative path", () => {
    const problems: string[] = [];
    let checked = 0;
    const outside = [...sources(join(root, "packages")), ...sources(join(root, "bench")), ...sources(join(root, "test"))];
    for (const file of [...sources(appsDir), ...outside]) {
      const own = appOf(file);
      for (const { specifier, target } of importsOf(file)) {
        checked++;
        const app = appOf(target);
        if (app !== undefined && app !== own) problems.push(`${relative(root, file)} imports ${specifier}: import @altalune/${app}'s package exports`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked, "relative imports were found and checked").toBeGreaterThan(100);
  });
});
