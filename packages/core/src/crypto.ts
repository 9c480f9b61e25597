import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";

// Secrets that must be readable again (OAuth client secrets, upstream provider secrets, signing
// keys) are sealed with AES-256-GCM. Format: "v1." + base64url(iv ‖ ciphertext ‖ tag). The
// version prefix lets a later key rotation or algorithm change tell old rows from new ones.
const VERSION = "v1.";
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SealedSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SealedSecretError";
  }
}

function checkKey(key: Buffer): void {
  if (key.length !== 32) throw new SealedSecretError("encryption key must be 32 bytes");
}

/** Encrypts `plaintext`; `context` (e.g. "oauth_client:<uuid>") is bound as associated data. */
export function sealSecret(key: Buffer, plaintext: string, context = ""): string {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(context, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return VERSION + Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
}

/** Decrypts a value from `sealSecret`; throws SealedSecretError on a wrong key, context or tampering. */
export function openSecret(key: Buffer, sealed: string, context = ""): string {
  checkKey(key);
  if (!sealed.startsWith(VERSION)) throw new SealedSecretError("unknown sealed secret format");
  const raw = Buffer.from(sealed.slice(VERSION.length), "base64url");
  if (raw.length < IV_BYTES + TAG_BYTES) throw new SealedSecretError("sealed secret is truncated");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(context, "utf8"));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new SealedSecretError("sealed secret cannot be opened (wrong key, context or tampered data)");
  }
}

/** SHA-256 as lowercase hex: how token-like values (codes, OTPs, links) are stored. */
export function sha256Hex(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}

/** Constant-time comparison of two strings of any length. */
export function safeEqual(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y);
}

/** A URL-safe random secret with `bytes` bytes of entropy. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}
