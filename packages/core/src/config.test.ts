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

const KEY = Buffer.alloc(32, 7).toString("base64");
const production = {
  NODE_ENV: "production",
  DATABASE_URL: "postgres://db/x",
  AUTH_ISSUER: "https://auth.example.org",
  ENCRYPTION_KEY: KEY,
};

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
      "AUTH_ISSUER: required in production (the public URL of the auth server)",
      "ENCRYPTION_KEY: required in production (base64 of 32 random bytes)",
    ]);
    const config = loadConfig({ ...production, SUPERADMIN_EMAIL: "ops@example.org" });
    expect(config.superadminEmail).toBe("ops@example.org");
  });
});

describe("auth and secrets", () => {
  it("has development defaults wired to the local auth server", () => {
    const c = loadConfig({ AUTH_PORT: "4400" });
    expect(c.auth).toMatchObject({ port: 4400, issuer: "http://localhost:4400", jwksUrl: undefined, apiAudience: "urn:altalune:api" });
    expect(c.auth.accessTokenTtlSeconds).toBe(900);
    expect(c.encryptionKey).toBeUndefined();
  });

  it("drops a trailing slash from the issuer (iss must compare exactly)", () => {
    expect(loadConfig({ AUTH_ISSUER: "https://auth.example.org/" }).auth.issuer).toBe("https://auth.example.org");
  });

  it.each([
    ["too short", Buffer.alloc(16).toString("base64")],
    ["not base64", "x".repeat(44)],
    ["junk inside", `${KEY.slice(0, 10)}!!${KEY.slice(12)}`],
  ])("refuses an ENCRYPTION_KEY that is %s", (_label, key) => {
    expect(problemsOf({ ENCRYPTION_KEY: key })).toEqual([
      "ENCRYPTION_KEY: must be the base64 encoding of exactly 32 bytes (openssl rand -base64 32)",
    ]);
  });

  it("parses origin and redirect lists, naming each bad entry", () => {
    const c = loadConfig({ ALLOWED_ORIGINS: "http://localhost:3000, https://app.example.org", ENCRYPTION_KEY: KEY });
    expect(c.allowedOrigins).toEqual(["http://localhost:3000", "https://app.example.org"]);
    expect(c.encryptionKey?.length).toBe(32);
    expect(problemsOf({ ALLOWED_ORIGINS: "https://app.example.org/path,*" })).toEqual([
      'ALLOWED_ORIGINS: "https://app.example.org/path" is not an origin (scheme://host[:port])',
      'ALLOWED_ORIGINS: "*" is not an origin (scheme://host[:port])',
    ]);
  });

  it("INTROSPECTION_CLIENT_IDS: none by default, client ids in lower case, each bad entry named", () => {
    expect(loadConfig({}).auth.introspectionClientIds).toEqual([]);
    const c = loadConfig({ INTROSPECTION_CLIENT_IDS: " 3A7C9E10-2B4D-4F6A-8C1E-5D7F9A0B2C4E, ,6f1c2f4e-5d7a-4b8e-9c3d-2a1b0c9d8e7f" });
    expect(c.auth.introspectionClientIds).toEqual(["3a7c9e10-2b4d-4f6a-8c1e-5d7f9a0b2c4e", "6f1c2f4e-5d7a-4b8e-9c3d-2a1b0c9d8e7f"]);
    expect(problemsOf({ INTROSPECTION_CLIENT_IDS: "altalune-account,*" })).toEqual([
      'INTROSPECTION_CLIENT_IDS: "altalune-account" is not a client id (UUID)',
      'INTROSPECTION_CLIENT_IDS: "*" is not a client id (UUID)',
    ]);
  });
});
