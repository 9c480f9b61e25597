import { describe, expect, it } from "vitest";
import { ConfigLoadError, parseRuntimeConfig } from "../app/config.js";

describe("web client config.json", () => {
  it("reads the URLs and client id, trims trailing slashes, derives the redirect URI from the page", () => {
    expect(parseRuntimeConfig({ apiUrl: "http://localhost:3100/api/", authUrl: "http://localhost:3300", bffUrl: "http://localhost:3300/", clientId: "abc" }, "http://localhost:3000")).toEqual({
      apiUrl: "http://localhost:3100/api",
      authUrl: "http://localhost:3300",
      bffUrl: "http://localhost:3300",
      clientId: "abc",
      redirectUri: "http://localhost:3000/auth/callback",
    });
  });

  it("names every missing or malformed field at once", () => {
    expect(() => parseRuntimeConfig({ apiUrl: "not a url", bffUrl: 7 }, "http://localhost:3000")).toThrow(
      new ConfigLoadError("config.json: authUrl: required (a non-empty string); bffUrl: required (a non-empty string); apiUrl: \"not a url\" is not a URL; clientId: required (a non-empty string)"),
    );
    expect(() => parseRuntimeConfig([], "http://localhost:3000")).toThrow(ConfigLoadError);
  });
});
