import { timingSafeEqual } from "node:crypto";
import { BoundedCache, type Clock, type Logger } from "@altalune/core";
import { hashSecret, parseApiKey, type ApiKeyRepo } from "../domains/api-key/index.js";

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
  /**
   * Keys whose use this process recorded within the interval, on the system clock (the injected
   * clock decides expiry only). An entry dropped early, by the bound, costs one extra write that
   * the UPDATE's own one-minute condition turns into a no-op.
   */
  private readonly recentlyRecorded = new BoundedCache<string, true>({ maxEntries: LAST_USED_MEMORY, ttlMs: LAST_USED_INTERVAL_MS });

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
    if (this.recentlyRecorded.get(id) !== undefined) return;
    this.recentlyRecorded.set(id, true);
    // Off the caller's path: a failed bookkeeping write must not fail the call it describes.
    this.keys.touchLastUsed(projectId, keyId).catch((e: unknown) => this.logger.warn({ err: e }, "could not record API key use"));
  }
}
