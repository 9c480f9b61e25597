import { randomBytes } from "node:crypto";
import { sha256Hex, type Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { PURGE_GRACE_SECONDS } from "../login-codes/login-codes.js";
import { maskEmail } from "../login-codes/mask-email.js";
import type { Mailer } from "../mail/mailer.js";
import { verificationMail } from "../mail/templates.js";
import type { RateLimiter } from "../rate-limit/rate-limiter.js";

export const VERIFICATION_TTL_HOURS = 24;
/** Same budget as login codes: 3 mails per user per 15 minutes. */
export const VERIFICATION_LIMIT = { limit: 3, windowSeconds: 900 } as const;
/** The path the link points at, on the auth server. */
export const VERIFY_EMAIL_PATH = "/verify-email";

// base64url of 32 random bytes, no padding.
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface EmailVerificationDeps {
  sql: Sql;
  mailer: Mailer;
  limiter: RateLimiter;
  logger: Logger;
  brand: string;
  /** Public URL of the auth server (config.auth.issuer), no trailing slash. */
  baseUrl: string;
  clock?: () => Date;
}

export type VerificationIssueResult = { status: "sent" | "already_verified" | "rate_limited" | "unknown_user" };
export type VerificationResult = { ok: true; userPublicId: string } | { ok: false; reason: "missing" | "invalid" | "expired_or_used" };

/**
 * Email verification links: 256 random bits, stored as SHA-256 (a guess cannot be checked
 * offline, so no key is needed), valid 24 hours, single use; a new link retires the older ones.
 * A link verifies the address it was sent to, not whatever address the user has later.
 */
export class EmailVerification {
  private readonly clock: () => Date;

  constructor(private readonly deps: EmailVerificationDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  /** Mails a new link. Rejects if the mailer fails (the link is stored; a resend replaces it). */
  async issue(userPublicId: string): Promise<VerificationIssueResult> {
    const { sql, limiter, logger } = this.deps;
    const [user] = await sql<{ id: string; email: string; first_name: string; email_verified: boolean }[]>`
      select id, email, first_name, email_verified from altalune_users where public_id = ${userPublicId}`;
    if (!user) return { status: "unknown_user" };
    if (user.email_verified) return { status: "already_verified" };
    const budget = await limiter.hit("email_verification:user", userPublicId, VERIFICATION_LIMIT.limit, VERIFICATION_LIMIT.windowSeconds);
    if (!budget.allowed) {
      logger.warn({ user: userPublicId }, "verification mail refused: rate limit");
      return { status: "rate_limited" };
    }
    const token = randomBytes(32).toString("base64url");
    const now = this.clock();
    const expiresAt = new Date(now.getTime() + VERIFICATION_TTL_HOURS * 3_600_000);
    await sql`
      with retired as (
        update altalune_email_verification_tokens set used_at = ${now}
        where user_id = ${user.id} and used_at is null)
      insert into altalune_email_verification_tokens (user_id, email, token_hash, expires_at, created_at)
      values (${user.id}, ${user.email}, ${sha256Hex(token)}, ${expiresAt}, ${now})`;
    const link = `${this.deps.baseUrl.replace(/\/+$/, "")}${VERIFY_EMAIL_PATH}?token=${encodeURIComponent(token)}`;
    const mail = verificationMail({
      brand: this.deps.brand,
      name: user.first_name.trim() || user.email,
      link,
      expiresHours: VERIFICATION_TTL_HOURS,
    });
    await this.deps.mailer.send({ to: user.email, ...mail });
    logger.info({ user: userPublicId, email: maskEmail(user.email) }, "verification mail sent");
    return { status: "sent" };
  }

  async verify(token: string | undefined | null): Promise<VerificationResult> {
    const candidate = (token ?? "").trim();
    if (candidate === "") return { ok: false, reason: "missing" };
    if (!TOKEN_PATTERN.test(candidate)) return { ok: false, reason: "invalid" };
    const hash = sha256Hex(candidate);
    const now = this.clock();
    // Consuming the token and verifying the user happen in one statement: a concurrent second
    // use waits for the row lock and then finds the token used.
    const [row] = await this.deps.sql<{ consumed: number; public_id: string | null }[]>`
      with t as (
        update altalune_email_verification_tokens set used_at = ${now}
        where token_hash = ${hash} and used_at is null and expires_at > ${now}
        returning user_id, email),
      u as (
        update altalune_users
        set email_verified = true, activated_at = coalesce(activated_at, ${now}), updated_at = ${now}
        from t where altalune_users.id = t.user_id and altalune_users.email = t.email
        returning altalune_users.public_id)
      select (select count(*) from t)::int as consumed, (select public_id from u) as public_id`;
    if (row?.public_id) {
      this.deps.logger.info({ user: row.public_id }, "email verified");
      return { ok: true, userPublicId: row.public_id };
    }
    // The address changed since the link was sent: the link proves nothing about the new one.
    if (row && row.consumed > 0) return { ok: false, reason: "invalid" };
    const [known] = await this.deps.sql`select 1 from altalune_email_verification_tokens where token_hash = ${hash}`;
    return { ok: false, reason: known ? "expired_or_used" : "invalid" };
  }

  /** Deletes links that expired more than a day ago. Returns how many. */
  async purgeExpired(): Promise<number> {
    const cutoff = new Date(this.clock().getTime() - PURGE_GRACE_SECONDS * 1000);
    const result = await this.deps.sql`delete from altalune_email_verification_tokens where expires_at < ${cutoff}`;
    return result.count;
  }
}
