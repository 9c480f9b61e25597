import { describe, expect, it } from "vitest";
import { chromiumPath } from "./testing/chromium.js";

describe("the browser tests' Chromium", () => {
  it("is Debian's chromium on PATH; without it the tests fail with the install command, never download one", () => {
    expect(() => chromiumPath({ PATH: "/nonexistent" })).toThrow(/apt-get install -y chromium/);
    expect(chromiumPath()).toMatch(/\/chromium$/);
  });
});
