import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** apps/web: index.html and app/ are the sources; dist/ is the build (git-ignored). */
export const WEB_ROOT = fileURLToPath(new URL("..", import.meta.url));
export const DIST_DIR = join(WEB_ROOT, "dist");
const STAMP = ".built";
// What the bundle is made of: a change in any of them makes dist/ stale.
const SOURCES = [join(WEB_ROOT, "app"), join(WEB_ROOT, "index.html"), join(WEB_ROOT, "package.json"), fileURLToPath(new URL("../../../packages/proto/src", import.meta.url))];

async function newestMtime(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of await readdir(path)) newest = Math.max(newest, await newestMtime(join(path, entry)));
  return newest;
}

async function isStale(distDir: string): Promise<boolean> {
  const built = await stat(join(distDir, STAMP)).catch(() => undefined);
  if (built === undefined) return true;
  const sources = Math.max(...(await Promise.all(SOURCES.map(newestMtime))));
  return sources > built.mtimeMs;
}

/** Bundles the app with Vite into `outDir`. Vite is loaded only here: serving needs none of it. */
export async function buildWebApp(outDir: string = DIST_DIR): Promise<void> {
  const { build } = await import("vite");
  await build({
    root: WEB_ROOT,
    configFile: false,
    logLevel: "warn",
    // Vue components are TSX (typechecked by tsc like the rest of the repository): Oxc turns
    // the JSX into calls of Vue's runtime.
    oxc: { jsx: { runtime: "automatic", importSource: "vue" } },
    define: {
      __VUE_OPTIONS_API__: "false",
      __VUE_PROD_DEVTOOLS__: "false",
      __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "false",
    },
    build: { outDir, emptyOutDir: true, sourcemap: true, reportCompressedSize: false },
  });
  await writeFile(join(outDir, STAMP), new Date().toISOString());
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Builds dist/ when it is missing or older than its sources; returns whether it built. Safe to
 * call from several processes at once (test files, `pnpm start`): one builds under a lock
 * directory, the others wait and find it fresh. The build goes to a temporary directory that
 * replaces dist/ at the end, so a half-written bundle is never served.
 */
export async function ensureWebBuild(opts: { distDir?: string; onBuild?: () => void } = {}): Promise<boolean> {
  const distDir = opts.distDir ?? DIST_DIR;
  if (!(await isStale(distDir))) return false;
  const lock = `${distDir}.lock`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      // A lock older than any build is left by a killed process.
      const held = await stat(lock).catch(() => undefined);
      if (held !== undefined && Date.now() - held.mtimeMs > 120_000) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`${lock}: another build did not finish within 120 s`);
      await sleep(200);
    }
  }
  try {
    if (!(await isStale(distDir))) return false;
    opts.onBuild?.();
    const tmp = `${distDir}.tmp-${process.pid}`;
    await buildWebApp(tmp);
    await rm(distDir, { recursive: true, force: true });
    await rename(tmp, distDir);
    return true;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
