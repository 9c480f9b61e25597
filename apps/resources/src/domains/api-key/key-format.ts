import { createHash, randomBytes } from "node:crypto";
import { PUBLIC_ID_ALPHABET, PUBLIC_ID_LENGTH } from "@altalune/core";

// An API key is "sk-" + project public id (14) + key public id (14) + secret (43).
//   - The two ids locate the row with two index probes (projects.public_id, then the one
//     partition's (project_id, public_id)), however many projects and partitions exist.
//   - The secret is 32 random bytes (256 bits) in base64url; only its SHA-256 is stored.
// Everything after "sk-" uses base64url characters, so the key survives URLs, headers and shells.
export const API_KEY_PREFIX = "sk-";
const SECRET_BYTES = 32;
const SECRET_LENGTH = 43; // base64url of 32 bytes, unpadded

const idClass = `[${PUBLIC_ID_ALPHABET}]{${PUBLIC_ID_LENGTH}}`;
const keyPattern = new RegExp(`^${API_KEY_PREFIX}(${idClass})(${idClass})([A-Za-z0-9_-]{${SECRET_LENGTH}})$`);

export interface ParsedApiKey {
  projectPublicId: string;
  keyPublicId: string;
  secret: string;
}

export function hashSecret(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

export function generateApiKey(projectPublicId: string, keyPublicId: string): { value: string; secretHash: Buffer } {
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  return { value: `${API_KEY_PREFIX}${projectPublicId}${keyPublicId}${secret}`, secretHash: hashSecret(secret) };
}

export function parseApiKey(value: string): ParsedApiKey | undefined {
  const m = keyPattern.exec(value);
  if (m === null || m[1] === undefined || m[2] === undefined || m[3] === undefined) return undefined;
  return { projectPublicId: m[1], keyPublicId: m[2], secret: m[3] };
}
