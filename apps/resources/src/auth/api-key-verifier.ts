import { timingSafeEqual } from "node:crypto";
import type { Logger } from "@altalune/core";
import { hashSecret, parseApiKey, type ApiKeyRepo, type Clock } from "../domains/api-key/index.js";

export type ApiKeyVerification =
  | { ok: true; projectPublicId: string; projectId: string; keyPublicId: string }
  | { ok: false; reason: "malformed" | "unknown" | "inactive" | "expired" };

/** Compared against when no key row exists, so a miss costs the same hash and compare as a hit. */
const ABSENT_HASH = hashSecret("absent");
const LAST_USED_INTERVAL_MS = 60_000;
const LAST_USED_MEMORY = 10_000;

/**
 * Checks a presented `sk-…` key: the project and key ids inside it find the stored hash (two
 * index probes), the secret's SHA-256 is compared in constant time, then state and expiry are
 * checked. Whether a key is unknown or its secret wrong is not told apart: both are "unknown".
 * A successful use is recorded at most once a minute per key: this process remembers when it
 * last wrote, and the UPDATE itself skips rows written within the minute by any replica.
 */
export class ApiKeyVerifier {
  private readonly lastRecorded = new Map<string, number>();

  constructor(
    private readonly keys: Pick<ApiKeyRepo, "findCredential" | "touchLastUsed">,
    private readonly clock: Clock,
    private readonly logger: Pick<Logger, "warn">,
  ) {}

  async verify(presented: string): Promise<ApiKeyVerification> {
    const parsed = parseApiKey(presented);
    if (parsed === undefined) return { ok: false, reason: "malformed" };
    const credential = await this.keys.findCredential(parsed.projectPublicId, parsed.keyPublicId);
    const matches = timingSafeEqual(hashSecret(parsed.secret), credential?.keyHash ?? ABSENT_HASH);
    if (credential === undefined || !matches) return { ok: false, reason: "unknown" };
    if (credential.expiration.getTime() <= this.clock().getTime()) return { ok: false, reason: "expired" };
    if (!credential.active) return { ok: false, reason: "inactive" };
    this.recordUse(credential.projectId, credential.keyId);
    return { ok: true, projectPublicId: parsed.projectPublicId, projectId: credential.projectId, keyPublicId: parsed.keyPublicId };
  }

  private recordUse(projectId: string, keyId: string): void {
    const id = `${projectId}:${keyId}`;
    const now = Date.now();
    const last = this.lastRecorded.get(id);
    if (last !== undefined && now - last < LAST_USED_INTERVAL_MS) return;
    // Re-inserting keeps the map ordered by last write; the oldest entries go first when full.
    this.lastRecorded.delete(id);
    this.lastRecorded.set(id, now);
    if (this.lastRecorded.size > LAST_USED_MEMORY) {
      const oldest = this.lastRecorded.keys().next();
      if (!oldest.done) this.lastRecorded.delete(oldest.value);
    }
    // Off the caller's path: a failed bookkeeping write must not fail the call it describes.
    this.keys.touchLastUsed(projectId, keyId).catch((e: unknown) => this.logger.warn({ err: e }, "could not record API key use"));
  }
}
