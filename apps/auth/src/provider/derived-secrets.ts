import { hkdfSync } from "node:crypto";

/**
 * Secrets the auth server needs besides the sealed ones, derived from ENCRYPTION_KEY with HKDF so
 * that every replica computes the same values without storing them, and a new ENCRYPTION_KEY
 * invalidates them all at once. Each purpose has its own `info` label, so no two uses share a key.
 */
function derive(encryptionKey: Buffer, purpose: string, bytes = 32): Buffer {
  return Buffer.from(hkdfSync("sha256", encryptionKey, Buffer.alloc(0), `altalune-auth:${purpose}:v1`, bytes));
}

/** oidc-provider's `cookies.keys` (signing of session and interaction cookies). */
export function cookieKeys(encryptionKey: Buffer): string[] {
  return [derive(encryptionKey, "cookies").toString("base64url")];
}

/** Secret of the CSRF tokens of the server-rendered forms. */
export function csrfSecret(encryptionKey: Buffer): Buffer {
  return derive(encryptionKey, "csrf");
}

/** Key that seals the ids oidc-provider keeps inside stored payloads (stored-ids.ts). */
export function storedIdKey(encryptionKey: Buffer): Buffer {
  return derive(encryptionKey, "oidc-stored-ids");
}

/**
 * Header value by which the BFF's own calls to the token endpoint are known: they are already
 * counted per end-user address at /oauth/exchange|refresh (endpoint-limits.ts), not as one client
 * on the server's own address.
 */
export function internalCallerSecret(encryptionKey: Buffer): string {
  return derive(encryptionKey, "bff-internal-calls").toString("base64url");
}
