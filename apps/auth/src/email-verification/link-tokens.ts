import { randomBytes } from "node:crypto";
import { sha256Hex } from "@altalune/core";
import type { Sql, TransactionSql } from "@altalune/db";
import { PURGE_GRACE_SECONDS } from "../login-codes/login-codes.js";

/**
 * The one token mechanism behind every link this server mails (email verification, email-change
 * confirmation): 256 random bits, stored as SHA-256 only (a guess cannot be checked offline, so
 * no key is needed), valid 24 hours, single use; a new link retires the user's older live links
 * of the same purpose. A link is bound to the address it was sent to: its users decide what that
 * address must still be.
 */

export type LinkPurpose = "verify" | "email_change";
export const LINK_TTL_HOURS = 24;

// base64url of 32 random bytes, no padding.
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export type LinkFailure = "missing" | "invalid" | "expired_or_used";

/** The token's hash when it has the shape of one; never touches the database. */
export function parseLinkToken(token: string | undefined | null): { ok: true; hash: string } | { ok: false; reason: "missing" | "invalid" } {
  const candidate = (token ?? "").trim();
  if (candidate === "") return { ok: false, reason: "missing" };
  if (!TOKEN_PATTERN.test(candidate)) return { ok: false, reason: "invalid" };
  return { ok: true, hash: sha256Hex(candidate) };
}

export function linkUrl(baseUrl: string, path: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, "")}${path}?token=${encodeURIComponent(token)}`;
}

/** Stores a new link for `email` and returns its token (the only copy: it goes into the mail). */
export async function issueLinkToken(
  q: Sql | TransactionSql,
  link: { userId: string; email: string; purpose: LinkPurpose; now: Date },
): Promise<string> {
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(link.now.getTime() + LINK_TTL_HOURS * 3_600_000);
  await q`
    with retired as (
      update altalune_email_verification_tokens set used_at = ${link.now}
      where user_id = ${link.userId} and purpose = ${link.purpose} and used_at is null)
    insert into altalune_email_verification_tokens (user_id, email, token_hash, expires_at, created_at, purpose)
    values (${link.userId}, ${link.email}, ${sha256Hex(token)}, ${expiresAt}, ${link.now}, ${link.purpose})`;
  return token;
}

/** A stored link's user and the address it was sent to. */
export interface LinkHolder {
  userId: string;
  email: string;
}

type LinkRow = { user_id: string; email: string };
const holderOf = (row: LinkRow | undefined): LinkHolder | undefined => row && { userId: row.user_id, email: row.email };

/** The live link of this hash and purpose, without using it up (callers lock what they need first). */
export async function findLiveLink(q: Sql | TransactionSql, hash: string, purpose: LinkPurpose, now: Date): Promise<LinkHolder | undefined> {
  const [row] = await q<LinkRow[]>`
    select user_id, email from altalune_email_verification_tokens
    where token_hash = ${hash} and purpose = ${purpose} and used_at is null and expires_at > ${now}`;
  return holderOf(row);
}

/**
 * Uses the link up: returns its user and address, or undefined when it is unknown, of another
 * purpose, expired or used. One UPDATE, so of concurrent uses exactly one gets the row.
 */
export async function consumeLinkToken(q: Sql | TransactionSql, hash: string, purpose: LinkPurpose, now: Date): Promise<LinkHolder | undefined> {
  const [row] = await q<LinkRow[]>`
    update altalune_email_verification_tokens set used_at = ${now}
    where token_hash = ${hash} and purpose = ${purpose} and used_at is null and expires_at > ${now}
    returning user_id, email`;
  return holderOf(row);
}

/** Why a link that could not be used failed: one of ours that is spent, or not one at all. */
export async function unusableReason(sql: Sql, hash: string, purpose: LinkPurpose): Promise<"invalid" | "expired_or_used"> {
  const [known] = await sql`select 1 from altalune_email_verification_tokens where token_hash = ${hash} and purpose = ${purpose}`;
  return known ? "expired_or_used" : "invalid";
}

/** Deletes links that expired more than a day ago. Returns how many. */
export async function purgeExpiredLinks(sql: Sql, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - PURGE_GRACE_SECONDS * 1000);
  const result = await sql`delete from altalune_email_verification_tokens where expires_at < ${cutoff}`;
  return result.count;
}
