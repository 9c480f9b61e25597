import { createLocalJWKSet, type JWK, type JWTVerifyGetKey } from "jose";
import type { KeySet } from "./signing-keys.js";

/**
 * The published keys as a jose key set, rebuilt only when the set changes (rotation): how this
 * server verifies its own access tokens without fetching its own JWKS over HTTP.
 */
export function localKeySet(keys: () => KeySet): () => JWTVerifyGetKey {
  let cached: { fingerprint: string; jwks: JWTVerifyGetKey } | undefined;
  return () => {
    const set = keys();
    if (cached?.fingerprint !== set.fingerprint) {
      cached = { fingerprint: set.fingerprint, jwks: createLocalJWKSet({ keys: set.published.map((k) => k.publicJwk as JWK) }) };
    }
    return cached.jwks;
  };
}
