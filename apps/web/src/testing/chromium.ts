import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { WEB_ROOT } from "../build.js";

/** The flags every browser test runs Chromium with (no network of its own, no GPU, no sandbox in containers). */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Debian's Chromium (`chromium` on PATH). The tests never download a browser. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  let found = "";
  try {
    found = execFileSync("/bin/sh", ["-c", "command -v chromium"], { encoding: "utf8", env }).trim();
  } catch {
    // not found: reported below
  }
  if (found === "") {
    throw new Error(
      "Chromium is not installed: the browser tests drive Debian's chromium package. Install it with " +
        "`apt-get install -y chromium` (as root; .ci/run does this when it is missing). No browser is downloaded.",
    );
  }
  return found;
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_FLAGS });
}

/** Screenshots of each step, for a person to look at after the run (apps/web/test-artifacts, git-ignored). */
export function screenshotter(suite: string): (page: Page, step: string) => Promise<void> {
  const dir = join(WEB_ROOT, "test-artifacts", suite);
  // Only this run's steps: a shorter run must not leave an older run's screenshots beside its own.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let n = 0;
  return async (page, step) => {
    n += 1;
    await page.screenshot({ path: join(dir, `${String(n).padStart(2, "0")}-${step}.png`), fullPage: true });
  };
}
