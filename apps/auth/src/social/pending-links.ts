import { randomBytes } from "node:crypto";
import { sha256Hex } from "@altalune/core";
import type { Sql } from "@altalune/db";
import type { RegistrationContext, UpstreamIdentity } from "./accounts.js";
import { normalizeIdentity } from "./accounts.js";

/**
 * Link offers (table altalune_pending_identity_links): a social sign-in came back with a verified
 * address that belongs to an existing account. Nothing is linked; the identity waits here, bound
 * to this browser by a random token (cookie; only its SHA-256 is stored), for that account to sign
 * in in the same browser and confirm. Single use, OFFER_TTL_SECONDS.
 */

export const OFFER_TTL_SECONDS = 15 * 60;
/** The offer's cookie; its path is the confirmation page's. */
export const OFFER_COOKIE = "altalune_link_offer";
export const OFFER_PATH = "/account/link/confirm";

export interface LinkOffer {
  /** Internal id of the user the address belongs to. */
  userId: string;
  identity: UpstreamIdentity;
  context: Pick<RegistrationContext, "clientId" | "clientName">;
}

interface OfferRow {
  user_id: string;
  provider: string;
  provider_user_id: string;
  email: string;
  first_name: string;
  last_name: string;
  oauth_client_id: string | null;
  origin_oauth_client_name: string | null;
}

const fromRow = (r: OfferRow): LinkOffer => ({
  userId: r.user_id,
  identity: {
    provider: r.provider,
    providerUserId: r.provider_user_id,
    email: r.email,
    emailVerified: true,
    firstName: r.first_name,
    lastName: r.last_name,
    avatarUrl: undefined,
  },
  context: { clientId: r.oauth_client_id ?? undefined, clientName: r.origin_oauth_client_name ?? undefined },
});

/** Stores an offer; returns the token for the browser's cookie. */
export async function createLinkOffer(sql: Sql, offer: LinkOffer): Promise<string> {
  const token = randomBytes(32).toString("base64url");
  const identity = normalizeIdentity(offer.identity);
  if (identity.email === undefined) throw new Error("a link offer needs the address that matched");
  await sql`
    insert into altalune_pending_identity_links
      (token_hash, user_id, provider, provider_user_id, email, first_name, last_name, oauth_client_id, origin_oauth_client_name, expires_at)
    values (${sha256Hex(token)}, ${offer.userId}, ${identity.provider}, ${identity.providerUserId}, ${identity.email},
            ${identity.firstName}, ${identity.lastName}, ${offer.context.clientId ?? null},
            ${offer.context.clientName === undefined ? null : [...offer.context.clientName].slice(0, 100).join("")},
            CURRENT_TIMESTAMP + make_interval(secs => ${OFFER_TTL_SECONDS}))`;
  return token;
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The live offer of a token, without using it. */
export async function findLinkOffer(sql: Sql, token: string | undefined): Promise<LinkOffer | undefined> {
  if (token === undefined || !TOKEN.test(token)) return undefined;
  const [row] = await sql<OfferRow[]>`
    select user_id, provider, provider_user_id, email, first_name, last_name, oauth_client_id, origin_oauth_client_name
    from altalune_pending_identity_links where token_hash = ${sha256Hex(token)} and expires_at > CURRENT_TIMESTAMP`;
  return row ? fromRow(row) : undefined;
}

/**
 * Uses an offer up for the user it was made for (atomic: a double submit links once). Another
 * user's or an expired offer yields undefined and stays as it is.
 */
export async function takeLinkOffer(sql: Sql, token: string | undefined, userId: string): Promise<LinkOffer | undefined> {
  if (token === undefined || !TOKEN.test(token)) return undefined;
  const [row] = await sql<OfferRow[]>`
    delete from altalune_pending_identity_links
    where token_hash = ${sha256Hex(token)} and user_id = ${userId} and expires_at > CURRENT_TIMESTAMP
    returning user_id, provider, provider_user_id, email, first_name, last_name, oauth_client_id, origin_oauth_client_name`;
  return row ? fromRow(row) : undefined;
}

/** Drops an offer (declined). */
export async function dropLinkOffer(sql: Sql, token: string | undefined): Promise<void> {
  if (token === undefined || !TOKEN.test(token)) return;
  await sql`delete from altalune_pending_identity_links where token_hash = ${sha256Hex(token)}`;
}
