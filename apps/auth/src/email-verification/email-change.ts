import { sha256Hex, type Clock } from "@altalune/core";
import { isUniqueViolation, type TransactionSql } from "@altalune/db";
import { maskEmail } from "../login-codes/mask-email.js";
import { emailChangeConfirmMail, emailChangeNoticeMail } from "../mail/templates.js";
import type { EmailVerificationDeps } from "./email-verification.js";
import { consumeLinkToken, findLiveLink, issueLinkToken, LINK_TTL_HOURS, linkUrl, parseLinkToken, unusableReason, type LinkFailure } from "./link-tokens.js";

/** The page the confirmation link opens (GET shows a button, POST confirms). */
export const CONFIRM_EMAIL_CHANGE_PATH = "/confirm-email-change";
/** Mails per user per 15 minutes; further requests wait in the outbox (the newest replaces). */
export const EMAIL_CHANGE_LIMIT = { limit: 3, windowSeconds: 900 } as const;
/** Outbox rows one poll looks at. */
const POLL_BATCH = 20;
/** A failed send is retried after 30 s, doubling, at most an hour apart. */
const RETRY_BASE_SECONDS = 30;
const RETRY_MAX_SECONDS = 3600;
/** How long a claimed row is left to its sender (two SMTP sends, each bounded well below). */
const SEND_LEASE_SECONDS = 300;
const EMAIL_UNIQUE = "ux_altalune_users_email";

export type EmailChangeSendResult = "sent" | "none" | "stale" | "deferred" | "failed";
export type EmailChangeFailure = LinkFailure | "superseded" | "email_taken" | "outgrown";
export type EmailChangeResult = { ok: true; userPublicId: string; email: string } | { ok: false; reason: EmailChangeFailure };

interface OutboxRow {
  user_id: string;
  request_id: string;
  old_email: string;
  new_email: string;
  public_id: string;
  first_name: string;
  pending_email: string | null;
}

/**
 * The mail side of email changes (docs/users.md). UpdateUser records the pending address and an
 * outbox row in one transaction (apps/resources/src/domains/user/email-change.ts); this sends
 * what the outbox holds: a notice to the old address and a confirmation link (link-tokens.ts,
 * purpose `email_change`) to the new one, then deletes the row. Whoever gets there first sends:
 * the Resources API's in-process listener right after the request (`sendFor`), or the auth
 * server's poll (`sendDue`) for rows nobody sent (no listener in that process, a crash, a mail
 * failure). A sender claims the row first (a lease, see `claim`), so two senders do not mail
 * the same request; a failure retires the link and leaves the row for a later retry, and a
 * sender that dies mid-send is replaced when its lease runs out (the mails may then go twice,
 * the first link retired: at least once, never lost).
 */
export class EmailChanges {
  private polling: Promise<number> | undefined;
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly deps: EmailVerificationDeps & { clock: Clock }) {}

  /**
   * Sends the mails of this user's pending change now (the listener's path, right after the
   * request: its row is due), unless another sender has claimed it or it is backing off.
   */
  async sendFor(userPublicId: string): Promise<EmailChangeSendResult> {
    const [user] = await this.deps.sql<{ id: string }[]>`select id from altalune_users where public_id = ${userPublicId}`;
    if (!user) return "none";
    return this.track(this.sendOne(user.id));
  }

  /** Sends every due outbox row; returns how many changes were mailed. Overlapping calls share one run. */
  sendDue(): Promise<number> {
    this.polling ??= this.track(this.pollOnce()).finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  /** Resolves when every send started so far has finished. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** The address a live link would confirm, without using it (the page before the button). */
  async peek(token: string | undefined | null): Promise<{ ok: true; email: string } | { ok: false; reason: LinkFailure }> {
    const parsed = parseLinkToken(token);
    if (!parsed.ok) return parsed;
    const live = await findLiveLink(this.deps.sql, parsed.hash, "email_change", this.deps.clock());
    if (live) return { ok: true, email: live.email };
    return { ok: false, reason: await unusableReason(this.deps.sql, parsed.hash, "email_change") };
  }

  /**
   * Uses the link: the user's email becomes the confirmed address (verified), nothing is pending.
   * Refused when the link is not the user's current pending change (`superseded`) or another
   * account has the address by now (`email_taken`: the change is dropped, the link used up).
   */
  async confirm(token: string | undefined | null): Promise<EmailChangeResult> {
    const parsed = parseLinkToken(token);
    if (!parsed.ok) return parsed;
    const now = this.deps.clock();
    const { logger } = this.deps;
    let outcome: EmailChangeResult | undefined;
    try {
      outcome = await this.deps.sql.begin(async (tx): Promise<EmailChangeResult | undefined> => {
        const live = await findLiveLink(tx, parsed.hash, "email_change", now);
        if (!live) return undefined;
        // The user's row before the link's: UpdateUser locks in that order too.
        const [user] = await tx<{ id: string; public_id: string; pending_email: string | null; pending_email_ceiling: string[] | null }[]>`
          select id, public_id, pending_email, pending_email_ceiling from altalune_users where id = ${live.userId} for update`;
        // Used up here, under the lock: of concurrent uses exactly one gets past this.
        const link = await consumeLinkToken(tx, parsed.hash, "email_change", now);
        if (!user || !link) return undefined;
        if (user.pending_email !== link.email) return { ok: false, reason: "superseded" };
        if (user.pending_email_ceiling !== null && (await holdsBeyond(tx, user.id, user.pending_email_ceiling))) {
          // Promoted since the request: its requester could not change this account's address now.
          await tx`update altalune_users set pending_email = null, pending_email_ceiling = null, updated_at = ${now} where id = ${user.id}`;
          logger.warn({ user: user.public_id }, "email change dropped: the user was given permissions its requester does not hold");
          return { ok: false, reason: "outgrown" };
        }
        const [taken] = await tx`select 1 from altalune_users where email = ${link.email} and id <> ${user.id}`;
        if (taken) {
          await tx`update altalune_users set pending_email = null, pending_email_ceiling = null, updated_at = ${now} where id = ${user.id}`;
          logger.warn({ user: user.public_id, email: maskEmail(link.email) }, "email change dropped: another account has the address");
          return { ok: false, reason: "email_taken" };
        }
        await tx`
          update altalune_users
          set email = ${link.email}, pending_email = null, pending_email_ceiling = null, email_verified = true,
              activated_at = coalesce(activated_at, ${now}), updated_at = ${now}
          where id = ${user.id}`;
        return { ok: true, userPublicId: user.public_id, email: link.email };
      });
    } catch (e) {
      // Another account took the address between the check and the update: nothing was
      // committed, and the next use of the link finds the address taken.
      if (isUniqueViolation(e, EMAIL_UNIQUE)) return { ok: false, reason: "email_taken" };
      throw e;
    }
    if (outcome === undefined) return { ok: false, reason: await unusableReason(this.deps.sql, parsed.hash, "email_change") };
    if (outcome.ok) logger.info({ user: outcome.userPublicId, email: maskEmail(outcome.email) }, "email change confirmed");
    return outcome;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => {});
    return p;
  }

  private async pollOnce(): Promise<number> {
    // The schedule is in the database's clock: the Resources API writes it with CURRENT_TIMESTAMP.
    const due = await this.deps.sql<{ user_id: string }[]>`
      select user_id from altalune_email_change_outbox where next_attempt_at <= CURRENT_TIMESTAMP
      order by next_attempt_at limit ${POLL_BATCH}`;
    let sent = 0;
    for (const { user_id } of due) if ((await this.sendOne(user_id)) === "sent") sent++;
    return sent;
  }

  private async sendOne(userId: string): Promise<EmailChangeSendResult> {
    const claim = await this.claim(userId);
    if (typeof claim === "string") return claim;
    const { row, token } = claim;
    const { sql, logger, mailer, brand } = this.deps;
    try {
      const name = row.first_name.trim() || row.old_email;
      // The notice first: if only one of the two mails can go out, it should be the warning to
      // the address that owns the account.
      await mailer.send({ to: row.old_email, ...emailChangeNoticeMail({ brand, name, newEmail: row.new_email, expiresHours: LINK_TTL_HOURS }) });
      const link = linkUrl(this.deps.baseUrl, CONFIRM_EMAIL_CHANGE_PATH, token);
      await mailer.send({ to: row.new_email, ...emailChangeConfirmMail({ brand, name, newEmail: row.new_email, link, expiresHours: LINK_TTL_HOURS }) });
    } catch (e) {
      // The link may not have arrived: retire it, and retry the request later (a newer request
      // that replaced it keeps its own schedule).
      await sql.begin(async (tx) => {
        await tx`update altalune_email_verification_tokens set used_at = ${this.deps.clock()} where token_hash = ${sha256Hex(token)} and used_at is null`;
        await tx`
          update altalune_email_change_outbox
          set next_attempt_at = CURRENT_TIMESTAMP + make_interval(secs => least(${RETRY_MAX_SECONDS}::float8, ${RETRY_BASE_SECONDS}::float8 * power(2, attempts - 1)))
          where user_id = ${userId} and request_id = ${row.request_id}`;
      });
      logger.error({ user: row.public_id, err: e instanceof Error ? e.message : String(e) }, "email change mail failed; retried later");
      return "failed";
    }
    await sql`delete from altalune_email_change_outbox where user_id = ${userId} and request_id = ${row.request_id}`;
    logger.info({ user: row.public_id, from: maskEmail(row.old_email), to: maskEmail(row.new_email) }, "email change confirmation sent");
    return "sent";
  }

  /**
   * Takes the row for one send, in a short transaction (no lock is held while mailing): checks
   * the change is still pending, applies the rate limit, stores the link (committed before the
   * mail that carries it can arrive) and moves next_attempt_at past the send, which keeps other
   * senders off it until this one finishes or is presumed dead.
   */
  private async claim(userId: string): Promise<{ row: OutboxRow; token: string } | EmailChangeSendResult> {
    const { limiter, logger } = this.deps;
    return this.deps.sql.begin(async (tx) => {
      const [row] = await tx<OutboxRow[]>`
        select o.user_id, o.request_id, o.old_email, o.new_email, u.public_id, u.first_name, u.pending_email
        from altalune_email_change_outbox o join altalune_users u on u.id = o.user_id
        where o.user_id = ${userId} and o.next_attempt_at <= CURRENT_TIMESTAMP
        for update of o skip locked`;
      if (!row) return "none";
      if (row.pending_email !== row.new_email) {
        // Confirmed, cancelled, or the address changed another way (seed): nothing to announce.
        await tx`delete from altalune_email_change_outbox where user_id = ${userId}`;
        return "stale";
      }
      const budget = await limiter.hit("email_change:user", row.public_id, EMAIL_CHANGE_LIMIT.limit, EMAIL_CHANGE_LIMIT.windowSeconds);
      if (!budget.allowed) {
        await tx`
          update altalune_email_change_outbox
          set next_attempt_at = CURRENT_TIMESTAMP + make_interval(secs => ${EMAIL_CHANGE_LIMIT.windowSeconds}::float8)
          where user_id = ${userId}`;
        logger.warn({ user: row.public_id }, "email change mail deferred: rate limit");
        return "deferred";
      }
      const token = await issueLinkToken(tx, { userId, email: row.new_email, purpose: "email_change", now: this.deps.clock() });
      await tx`
        update altalune_email_change_outbox
        set attempts = attempts + 1, next_attempt_at = CURRENT_TIMESTAMP + make_interval(secs => ${SEND_LEASE_SECONDS}::float8)
        where user_id = ${userId}`;
      return { row, token };
    });
  }
}

/** Whether the user now holds a permission (by key) outside the ceiling its change was requested under. */
async function holdsBeyond(tx: TransactionSql, userId: string, ceiling: readonly string[]): Promise<boolean> {
  const [row] = await tx<{ beyond: boolean }[]>`
    select exists (
      select 1 from altalune_permissions p
      where p.id in (
        select permission_id from altalune_users_permissions where user_id = ${userId}
        union
        select rp.permission_id from altalune_users_roles ur join altalune_roles_permissions rp on rp.role_id = ur.role_id
        where ur.user_id = ${userId})
        and coalesce(p.system_key, p.name) <> all(${[...ceiling]}::text[])) as beyond`;
  return row?.beyond ?? false;
}
