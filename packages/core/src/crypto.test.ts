import { describe, expect, it } from "vitest";
import { openSecret, randomSecret, safeEqual, sealSecret, SealedSecretError, sha256Hex } from "./crypto.js";

const key = Buffer.alloc(32, 1);
const otherKey = Buffer.alloc(32, 2);

describe("sealed secrets (AES-256-GCM)", () => {
  it("round-trips and never repeats a ciphertext", () => {
    const a = sealSecret(key, "s3cret", "ctx");
    const b = sealSecret(key, "s3cret", "ctx");
    expect(a).not.toBe(b);
    expect(a).not.toContain("s3cret");
    expect(openSecret(key, a, "ctx")).toBe("s3cret");
  });

  it.each([
    ["another key", (s: string) => openSecret(otherKey, s, "ctx")],
    ["another context", (s: string) => openSecret(key, s, "other")],
    ["a flipped byte", (s: string) => openSecret(key, s.slice(0, -3) + (s.at(-3) === "A" ? "B" : "A") + s.slice(-2), "ctx")],
    ["a truncated value", (s: string) => openSecret(key, s.slice(0, 10), "ctx")],
    ["an unknown format", () => openSecret(key, "v0.abc", "ctx")],
  ])("refuses to open with %s", (_label, open) => {
    const sealed = sealSecret(key, "s3cret", "ctx");
    expect(() => open(sealed)).toThrow(SealedSecretError);
  });

  it("refuses a key that is not 32 bytes", () => {
    expect(() => sealSecret(Buffer.alloc(16), "x")).toThrow(SealedSecretError);
  });
});

describe("hashing helpers", () => {
  it("sha256Hex is the lowercase hex digest", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("safeEqual compares any lengths", () => {
    expect(safeEqual("a", "a")).toBe(true);
    expect(safeEqual("a", "ab")).toBe(false);
  });

  it("randomSecret is url-safe with the requested entropy", () => {
    expect(randomSecret(32)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
