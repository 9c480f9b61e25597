import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import { openSecret, sealSecret } from "@altalune/core";
import { advisoryXactLock, writeAuditEvent, type Queryable, type Sql } from "@altalune/db";
import { securityRecord } from "../audit/index.js";

/**
 * Signing keys live in altalune_auth_signing_keys (0009), private halves sealed with
 * ENCRYPTION_KEY, so every auth-server process signs with the same key and publishes the same
 * JWKS. RS256: every JOSE library and every third-party relying party supports it; the Resources
 * API accepts RS256 and ES256.
 */
export const SIGNING_ALG = "RS256";
const RSA_MODULUS_BITS = 2048;
/** One first-start key for the whole cluster, even when replicas start together. */
const FIRST_KEY_LOCK = "altalune_auth_signing_keys:first";

export interface SigningKey {
  kid: string;
  alg: string;
  publicJwk: JWK;
  privateJwk: JWK;
  activatesAt: Date;
}

export interface KeySet {
  /** Signs new tokens: the newest key whose activation time has passed. */
  signer: SigningKey;
  /** Published in the JWKS and accepted for verification, signer first. */
  published: SigningKey[];
  /** Changes whenever the signer or the published set changes (replicas compare it). */
  fingerprint: string;
}

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: JWK;
  private_jwk_sealed: string;
  activates_at: Date;
}

const sealContext = (kid: string): string => `auth_signing_key:${kid}`;

async function newKeyPair(): Promise<{ kid: string; publicJwk: JWK; privateJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { modulusLength: RSA_MODULUS_BITS, extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const meta = { kid, alg: SIGNING_ALG, use: "sig" };
  return { kid, publicJwk: { ...publicJwk, ...meta }, privateJwk: { ...(await exportJWK(privateKey)), ...meta } };
}

async function insertKey(sql: Queryable, encryptionKey: Buffer, activationDelaySeconds: number): Promise<string> {
  const { kid, publicJwk, privateJwk } = await newKeyPair();
  const sealed = sealSecret(encryptionKey, JSON.stringify(privateJwk), sealContext(kid));
  await sql`
    insert into altalune_auth_signing_keys (kid, alg, public_jwk, private_jwk_sealed, activates_at)
    values (${kid}, ${SIGNING_ALG}, ${sql.json(publicJwk as Record<string, string>)}, ${sealed},
            CURRENT_TIMESTAMP + make_interval(secs => ${activationDelaySeconds}))`;
  return kid;
}

/** Generates the first key if there is none (first start); a no-op afterwards. */
export async function ensureSigningKey(sql: Sql, encryptionKey: Buffer): Promise<void> {
  const [any] = await sql`select 1 from altalune_auth_signing_keys limit 1`;
  if (any) return;
  await sql.begin(async (tx) => {
    await advisoryXactLock(tx, FIRST_KEY_LOCK);
    const [again] = await tx`select 1 from altalune_auth_signing_keys limit 1`;
    if (!again) await insertKey(tx, encryptionKey, 0);
  });
}

export interface RotateOptions {
  /**
   * Seconds between publishing the new key and signing with it. Replicas pick the new key set up
   * within their poll interval; signing only after every JWKS already carries the key means no
   * verifier ever meets a token whose key it cannot fetch.
   */
  activationDelaySeconds: number;
  /** Longest lifetime of a token signed by a key (max of access and ID token TTL), in seconds. */
  retentionSeconds: number;
}

/** Adds a new signing key and forgets keys that no longer verify any unexpired token. */
export async function rotateSigningKey(
  sql: Sql,
  encryptionKey: Buffer,
  opts: RotateOptions,
): Promise<{ kid: string; activatesAt: Date; pruned: string[] }> {
  return sql.begin(async (tx) => {
    await advisoryXactLock(tx, FIRST_KEY_LOCK);
    // With no key signing yet (nothing was ever started), there is nothing to wait for.
    const [active] = await tx`select 1 from altalune_auth_signing_keys where activates_at <= CURRENT_TIMESTAMP limit 1`;
    const kid = await insertKey(tx, encryptionKey, active ? Math.max(0, opts.activationDelaySeconds) : 0);
    const rows = await tx<KeyRow[]>`
      select kid, alg, public_jwk, private_jwk_sealed, activates_at from altalune_auth_signing_keys`;
    const [{ now } = { now: new Date() }] = await tx<{ now: Date }[]>`select CURRENT_TIMESTAMP as now`;
    const keep = new Set(publishedRows(rows, now, opts.retentionSeconds).map((r) => r.kid));
    const pruned = rows.map((r) => r.kid).filter((k) => !keep.has(k));
    if (pruned.length > 0) await tx`delete from altalune_auth_signing_keys where kid = any(${pruned})`;
    const activatesAt = rows.find((r) => r.kid === kid)?.activates_at ?? now;
    // In the rotating transaction: the new key exists exactly when its row does.
    await writeAuditEvent(
      tx,
      securityRecord(undefined, {
        action: "auth.signing_key.rotated",
        actorType: "system",
        targetType: "signing_key",
        targetId: kid,
        details: { activates_at: activatesAt.toISOString(), ...(pruned.length > 0 ? { retired: pruned.join(",") } : {}) },
        tags: ["key_rotated"],
      }),
    );
    return { kid, activatesAt, pruned };
  });
}

/**
 * Keys to publish at `now`: keys not active yet (announced ahead of use), the signer, and each
 * older key until its successor has been signing for `retentionSeconds`.
 */
function publishedRows(rows: KeyRow[], now: Date, retentionSeconds: number): KeyRow[] {
  const byActivation = [...rows].sort((a, b) => a.activates_at.getTime() - b.activates_at.getTime() || a.kid.localeCompare(b.kid));
  const active = byActivation.filter((r) => r.activates_at <= now);
  const pending = byActivation.filter((r) => r.activates_at > now);
  const signer = active.at(-1);
  const older = active.slice(0, -1).filter((_, i) => {
    const successor = active[i + 1];
    return successor !== undefined && now.getTime() - successor.activates_at.getTime() < retentionSeconds * 1000;
  });
  return [...(signer ? [signer] : []), ...pending, ...older.reverse()];
}

/** The current key set, private halves opened; throws if there is no active key. */
export async function loadKeySet(sql: Sql, encryptionKey: Buffer, retentionSeconds: number): Promise<KeySet> {
  const rows = await sql<KeyRow[]>`select kid, alg, public_jwk, private_jwk_sealed, activates_at from altalune_auth_signing_keys`;
  const [{ now } = { now: new Date() }] = await sql<{ now: Date }[]>`select CURRENT_TIMESTAMP as now`;
  const published = publishedRows(rows, now, retentionSeconds);
  const signerRow = published[0];
  if (signerRow === undefined || signerRow.activates_at > now) {
    throw new Error("no active signing key (the auth server creates one on first start)");
  }
  const keys = published.map((r) => ({
    kid: r.kid,
    alg: r.alg,
    publicJwk: r.public_jwk,
    privateJwk: JSON.parse(openSecret(encryptionKey, r.private_jwk_sealed, sealContext(r.kid))) as JWK,
    activatesAt: r.activates_at,
  }));
  const [signer] = keys as [SigningKey, ...SigningKey[]];
  return { signer, published: keys, fingerprint: keys.map((k) => k.kid).join(",") };
}
