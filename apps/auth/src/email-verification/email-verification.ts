import { systemClock, type Clock, type Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { maskEmail } from "../login-codes/mask-email.js";
import type { Mailer } from "../mail/mailer.js";
import { verificationMail } from "../mail/templates.js";
import type { RateLimiter } from "../rate-limit/rate-limiter.js";
import { EmailChanges } from "./email-change.js";
import { consumeLinkToken, issueLinkToken, LINK_TTL_HOURS, linkUrl, parseLinkToken, purgeExpiredLinks, unusableReason } from "./link-tokens.js";

export const VERIFICATION_TTL_HOURS = LINK_TTL_HOURS;
/** Same budget as login codes: 3 mails per user per 15 minutes. */
export const VERIFICATION_LIMIT = { limit: 3, windowSeconds: 900 } as const;
/** The path the link points at, on the auth server. */
export const VERIFY_EMAIL_PATH = "/verify-email";

export interface EmailVerificationDeps {
  sql: Sql;
  mailer: Mailer;
  limiter: RateLimiter;
  logger: Logger;
  brand: string;
  /** Public URL of the auth server (config.auth.issuer), no trailing slash. */
  baseUrl: string;
  clock?: Clock;
}

export type VerificationIssueResult = { status: "sent" | "already_verified" | "rate_limited" | "unknown_user" };
export type VerificationResult = { ok: true; userPublicId: string } | { ok: false; reason: "missing" | "invalid" | "expired_or_used" };

/**
 * Email verification links (link-tokens.ts: 256 random bits stored as SHA-256, 24 hours, single
 * use, a new link retires the older ones). A link verifies the address it was sent to, not
 * whatever address the user has later. The email-change confirmations use the same links
 * (`emailChanges`, email-change.ts).
 */
export class EmailVerification {
  private readonly clock: Clock;
  /** Confirmation of email changes requested through UpdateUser, with the same deps. */
  readonly emailChanges: EmailChanges;

  constructor(private readonly deps: EmailVerificationDeps) {
    this.clock = deps.clock ?? systemClock;
    this.emailChanges = new EmailChanges({ ...deps, clock: this.clock });
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
    const token = await issueLinkToken(sql, { userId: user.id, email: user.email, purpose: "verify", now: this.clock() });
    const link = linkUrl(this.deps.baseUrl, VERIFY_EMAIL_PATH, token);
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
    const parsed = parseLinkToken(token);
    if (!parsed.ok) return parsed;
    const now = this.clock();
    // Using the link and verifying the user commit together: a concurrent second use waits for
    // the link's row lock and then finds it used.
    const outcome = await this.deps.sql.begin(async (tx) => {
      const link = await consumeLinkToken(tx, parsed.hash, "verify", now);
      if (!link) return undefined;
      const [user] = await tx<{ public_id: string }[]>`
        update altalune_users
        set email_verified = true, activated_at = coalesce(activated_at, ${now}), updated_at = ${now}
        where id = ${link.userId} and email = ${link.email}
        returning public_id`;
      return { publicId: user?.public_id };
    });
    if (outcome?.publicId) {
      this.deps.logger.info({ user: outcome.publicId }, "email verified");
      return { ok: true, userPublicId: outcome.publicId };
    }
    // The address changed since the link was sent: the link proves nothing about the new one.
    if (outcome) return { ok: false, reason: "invalid" };
    return { ok: false, reason: await unusableReason(this.deps.sql, parsed.hash, "verify") };
  }

  /** Deletes links that expired more than a day ago. Returns how many. */
  async purgeExpired(): Promise<number> {
    return purgeExpiredLinks(this.deps.sql, this.clock());
  }
}
