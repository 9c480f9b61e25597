import { defineConfig } from "vitest/config";

// Fault tests stop databases, cut connections through proxies and spawn replicas: they run after
// the rest, one file at a time, so a loaded machine cannot blur their timing bounds and they
// cannot slow unrelated files.
const FAULT_TESTS = ["apps/*/src/faults/**/*.test.ts", "apps/auth/src/faults.test.ts", "test/**/faults/**/*.test.ts"];
const EXCLUDE = ["**/node_modules/**", "**/dist/**", "**/.data/**"];
// The web client driven in Chromium (apps/web): after the faults, one file at a time, so the
// browser's load does not blur other files' timing and a few-second token lifetime stays a
// few seconds.
const BROWSER_TESTS = ["apps/web/src/**/*.browser.test.ts"];

export default defineConfig({
  test: {
    // Starts (or connects to) PostgreSQL and builds the migrated template database.
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "main",
          include: ["packages/**/*.test.ts", "apps/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [...EXCLUDE, ...FAULT_TESTS, ...BROWSER_TESTS],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "faults",
          include: FAULT_TESTS,
          exclude: EXCLUDE,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: "browser",
          include: BROWSER_TESTS,
          exclude: EXCLUDE,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
