import { describe, expect, it } from "vitest";
import { ConfigError, DEV_SUPERADMIN_EMAIL, loadConfig } from "./config.js";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("SUPERADMIN_EMAIL", () => {
  it("defaults outside production", () => {
    expect(loadConfig({}).superadminEmail).toBe(DEV_SUPERADMIN_EMAIL);
    expect(loadConfig({ NODE_ENV: "test" }).superadminEmail).toBe("admin@altalune.local");
  });

  it("is trimmed and lower-cased, like every stored email", () => {
    expect(loadConfig({ SUPERADMIN_EMAIL: "  Ops@Example.ORG " }).superadminEmail).toBe("ops@example.org");
  });

  it("must be an email address", () => {
    expect(problemsOf({ SUPERADMIN_EMAIL: "admin" })).toEqual(["SUPERADMIN_EMAIL: must be an email address"]);
  });

  it("is required in production, reported with the other production requirements", () => {
    expect(problemsOf({ NODE_ENV: "production" })).toEqual([
      "DATABASE_URL: required in production",
      "SUPERADMIN_EMAIL: required in production",
    ]);
    const config = loadConfig({ NODE_ENV: "production", DATABASE_URL: "postgres://db/x", SUPERADMIN_EMAIL: "ops@example.org" });
    expect(config.superadminEmail).toBe("ops@example.org");
  });
});
