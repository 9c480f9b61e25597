export const API_KEY_STATUSES = ["active", "expiring_soon", "inactive", "expired"] as const;
export type ApiKeyStatus = (typeof API_KEY_STATUSES)[number];

/** A key whose expiration is at most this far away is "expiring_soon". */
export const EXPIRING_SOON_MS = 10 * 24 * 60 * 60 * 1000;
/** The farthest expiration a key may have. */
export const MAX_LIFETIME_MS = 2 * 365 * 24 * 60 * 60 * 1000;

export interface ApiKey {
  publicId: string;
  name: string;
  expiration: Date;
  active: boolean;
  lastUsedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ApiKeyInput {
  name: string;
  expiration: Date;
}

/**
 * Every key has exactly one status at a given instant: expiry wins over the active flag, and the
 * active ones split on the 10-day horizon. The list filter in repo.ts encodes the same rules.
 */
export function apiKeyStatus(key: Pick<ApiKey, "active" | "expiration">, now: Date): ApiKeyStatus {
  const expiresIn = key.expiration.getTime() - now.getTime();
  if (expiresIn <= 0) return "expired";
  if (!key.active) return "inactive";
  return expiresIn <= EXPIRING_SOON_MS ? "expiring_soon" : "active";
}
