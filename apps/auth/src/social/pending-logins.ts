import { openSecret, sealSecret, sha256Hex } from "@altalune/core";
import type { Sql } from "@altalune/db";

/**
 * Sign-ins waiting at an upstream provider (table altalune_upstream_logins): created when the
 * browser is sent upstream, consumed once by the callback. State is kept hashed, the PKCE
 * verifier sealed; see migrations/0012_upstream_logins.sql.
 */

/** How long the person has at the upstream provider (login, consent, maybe a second factor). */
export const UPSTREAM_LOGIN_TTL_SECONDS = 10 * 60;
/** Rows stay this long after expiry, so a late callback is told "expired" rather than "unknown". */
const PURGE_GRACE_SECONDS = 24 * 60 * 60;

/**
 * Whose sign-in it is: a login inside an oidc-provider Interaction, or a link started from the
 * account page by a signed-in user (bound to that user and their login session).
 */
export type UpstreamLoginOwner =
  | { purpose: "login"; interactionUid: string }
  | { purpose: "link"; userId: string; sessionHash: string };

export interface NewUpstreamLogin {
  state: string;
  owner: UpstreamLoginOwner;
  slug: string;
  nonce: string | undefined;
  codeVerifier: string;
}

export interface ConsumedUpstreamLogin {
  nonce: string | undefined;
  codeVerifier: string;
}

/** What the callback's first hop learns from the state alone. */
export type StateLookup =
  | { status: "pending"; slug: string; purpose: "login"; interactionUid: string }
  | { status: "pending"; slug: string; purpose: "link" }
  | { status: "unknown" }
  | { status: "expired"; interactionUid: string | undefined }
  | { status: "used"; interactionUid: string | undefined };

/** Why a consume found nothing to consume. */
export type ConsumeFailure = "unknown" | "expired" | "used" | "mismatch";

const verifierContext = (stateHash: string): string => `upstream_login:${stateHash}`;
const interactionContext = (stateHash: string): string => `upstream_login_interaction:${stateHash}`;

export async function createUpstreamLogin(sql: Sql, encryptionKey: Buffer, login: NewUpstreamLogin): Promise<void> {
  const stateHash = sha256Hex(login.state);
  const { owner } = login;
  await sql`
    insert into altalune_upstream_logins
      (state_hash, purpose, interaction_uid_hash, interaction_uid_sealed, link_user_id, link_session_hash, slug, nonce,
       code_verifier_sealed, expires_at)
    values (${stateHash}, ${owner.purpose}, ${owner.purpose === "login" ? sha256Hex(owner.interactionUid) : null},
            ${owner.purpose === "login" ? sealSecret(encryptionKey, owner.interactionUid, interactionContext(stateHash)) : null},
            ${owner.purpose === "link" ? owner.userId : null}, ${owner.purpose === "link" ? owner.sessionHash : null},
            ${login.slug}, ${login.nonce ?? null},
            ${sealSecret(encryptionKey, login.codeVerifier, verifierContext(stateHash))},
            CURRENT_TIMESTAMP + make_interval(secs => ${UPSTREAM_LOGIN_TTL_SECONDS}))`;
}

/** Reads a state without using it up: the first hop only needs to know where it belongs. */
export async function lookupState(sql: Sql, encryptionKey: Buffer, state: string): Promise<StateLookup> {
  const stateHash = sha256Hex(state);
  const [row] = await sql<{ interaction_uid_sealed: string | null; purpose: string; slug: string; consumed: boolean; live: boolean }[]>`
    select interaction_uid_sealed, purpose, slug, consumed_at is not null as consumed, expires_at > CURRENT_TIMESTAMP as live
    from altalune_upstream_logins where state_hash = ${stateHash}`;
  if (!row) return { status: "unknown" };
  const interactionUid =
    row.interaction_uid_sealed === null ? undefined : openSecret(encryptionKey, row.interaction_uid_sealed, interactionContext(stateHash));
  if (row.consumed) return { status: "used", interactionUid };
  if (!row.live) return { status: "expired", interactionUid };
  if (row.purpose === "link") return { status: "pending", slug: row.slug, purpose: "link" };
  if (interactionUid === undefined) return { status: "unknown" };
  return { status: "pending", slug: row.slug, purpose: "login", interactionUid };
}

/**
 * Uses a state up, atomically: of two concurrent callbacks with the same state exactly one gets
 * the verifier. It must belong to this owner (interaction, or user and login session) and
 * provider, be unused and unexpired.
 */
export async function consumeUpstreamLogin(
  sql: Sql,
  encryptionKey: Buffer,
  spec: { state: string; owner: UpstreamLoginOwner; slug: string },
): Promise<{ ok: true; login: ConsumedUpstreamLogin } | { ok: false; reason: ConsumeFailure }> {
  const stateHash = sha256Hex(spec.state);
  const { owner } = spec;
  const ownedBy =
    owner.purpose === "login"
      ? sql`purpose = 'login' and interaction_uid_hash = ${sha256Hex(owner.interactionUid)}`
      : sql`purpose = 'link' and link_user_id = ${owner.userId} and link_session_hash = ${owner.sessionHash}`;
  const [row] = await sql<{ nonce: string | null; code_verifier_sealed: string }[]>`
    update altalune_upstream_logins set consumed_at = CURRENT_TIMESTAMP
    where state_hash = ${stateHash} and ${ownedBy} and slug = ${spec.slug}
      and consumed_at is null and expires_at > CURRENT_TIMESTAMP
    returning nonce, code_verifier_sealed`;
  if (row) {
    return {
      ok: true,
      login: { nonce: row.nonce ?? undefined, codeVerifier: openSecret(encryptionKey, row.code_verifier_sealed, verifierContext(stateHash)) },
    };
  }
  const [found] = await sql<{ owned: boolean; slug: string; consumed: boolean }[]>`
    select (${ownedBy}) as owned, slug, consumed_at is not null as consumed from altalune_upstream_logins where state_hash = ${stateHash}`;
  if (!found) return { ok: false, reason: "unknown" };
  if (!found.owned || (!found.consumed && found.slug !== spec.slug)) return { ok: false, reason: "mismatch" };
  return { ok: false, reason: found.consumed ? "used" : "expired" };
}

/**
 * Deletes rows well past their expiry (and expired link offers, see pending-links.ts); returns
 * how many. For the auth server's purge loop.
 */
export async function purgeExpiredUpstreamLogins(sql: Sql): Promise<number> {
  const result = await sql`
    delete from altalune_upstream_logins
    where expires_at < CURRENT_TIMESTAMP - make_interval(secs => ${PURGE_GRACE_SECONDS})`;
  const offers = await sql`delete from altalune_pending_identity_links where expires_at < CURRENT_TIMESTAMP`;
  return result.count + offers.count;
}
