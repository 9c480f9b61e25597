import { createHmac, hkdfSync, randomInt } from "node:crypto";
import { safeEqual, systemClock, type Clock, type Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import type { Mailer } from "../mail/mailer.js";
import { loginCodeMail } from "../mail/templates.js";
import type { RateLimiter } from "../rate-limit/rate-limiter.js";
import { maskEmail } from "./mask-email.js";

/** Digits per code: 10^8 codes, see LOGIN_CODE_FAILURE_LIMIT for what that buys. */
export const LOGIN_CODE_DIGITS = 8;
export const LOGIN_CODE_TTL_SECONDS = 300;
/** Wrong guesses that kill one code. */
export const LOGIN_CODE_MAX_ATTEMPTS = 5;
/**
 * Wrong guesses per address per rolling 24 hours from browsers that have not signed in to it
 * before (no known-device cookie for it). With 8-digit codes the chance that such guessing
 * ever hits within a year is at most (365 × 20 + 1) / (10^8 − 4) ≈ 7.3e-5 (docs/auth-server.md, "Login codes").
 */
export const LOGIN_CODE_FAILURE_LIMIT = { limit: 20, windowSeconds: 86_400 } as const;
/** Codes one sign-in (interaction) may ask for: resends within a flow. */
export const LOGIN_CODE_INTERACTION_LIMIT = { limit: 3, windowSeconds: 900 } as const;
/**
 * Codes mailed to one address per hour for browsers not known for it (mailbox flooding). A
 * known browser is not counted, so a flood of third-party requests never stops the owner's
 * browsers; a new browser of the owner can be delayed by it, as by the failure budget.
 */
export const LOGIN_CODE_EMAIL_LIMIT = { limit: 20, windowSeconds: 3600 } as const;
/** Per client IP: room for a household or office behind one address, not for enumeration. */
export const LOGIN_CODE_IP_LIMIT = { limit: 20, windowSeconds: 900 } as const;
/** Codes and tokens are deleted this long after they expired (kept a while for support questions). */
export const PURGE_GRACE_SECONDS = 86_400;

const CODE_PATTERN = new RegExp(`^\\d{${LOGIN_CODE_DIGITS}}$`);
const CODE_SPACE = 10 ** LOGIN_CODE_DIGITS;

/**
 * The key codes are hashed under, derived from ENCRYPTION_KEY (HKDF, its own label, so the
 * derived key is useless for sealing and vice versa). A keyed hash, because a plain hash of an
 * 8-digit code is reversed by trying all 10^8 codes; with the key kept out of the database a
 * dump reveals nothing (and the code is dead five minutes later anyway). The same key hashes the
 * interaction a code is bound to and the address of the failure counter.
 */
export function deriveLoginCodeKey(encryptionKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", encryptionKey, Buffer.alloc(0), "altalune:login-code-hmac:v1", 32));
}

type Limit = { limit: number; windowSeconds: number };

export interface LoginCodesDeps {
  sql: Sql;
  mailer: Mailer;
  limiter: RateLimiter;
  logger: Logger;
  brand: string;
  /** HMAC key for stored codes: deriveLoginCodeKey(config.encryptionKey). */
  pepper: Buffer;
  clock?: Clock;
  limits?: {
    perEmail?: Limit;
    perIp?: Limit;
    perInteraction?: Limit;
    failures?: Limit;
  };
}

/** Who asks: the browser's sign-in and what it has proven before. */
export interface LoginCodeCaller {
  /** The Interaction uid: a code works only in the interaction that requested it. */
  interaction: string;
  /** The browser carries a genuine known-device cookie naming this address. */
  knownDevice: boolean;
}

export type LoginCodeRequestResult = { status: "sent" | "rate_limited" };

export type LoginCodeVerifyResult =
  | { ok: true; userId: string; userPublicId: string; active: boolean }
  | {
      ok: false;
      reason: "invalid" | "expired" | "too_many_attempts" | "guess_limit";
      /** A wrong code that used one of the code's attempts (and the address's budget): a guess, worth a record. */
      counted?: true;
    };

interface CodeRow {
  id: string;
  user_id: string | null;
  code_hash: string;
  attempts: number;
  expires_at: Date;
  consumed_at: Date | null;
}

/**
 * Email one-time codes: 8 digits, valid 5 minutes, single use, bound to the interaction that
 * asked for it, 5 wrong guesses kill a code, a new code retires the previous ones of the same
 * interaction only (another browser cannot retire the owner's code).
 *
 * Known and unknown addresses are treated alike at every step: a request for an unknown address
 * stores a code row too (no user, never mailed, never accepted), so its wrong guesses are
 * counted, answered and limited exactly like a known address's; the same statements run either
 * way and the mail goes out after the answer.
 */
export class LoginCodes {
  private readonly clock: Clock;
  private readonly inflight = new Set<Promise<void>>();
  private readonly limits: Required<NonNullable<LoginCodesDeps["limits"]>>;

  constructor(private readonly deps: LoginCodesDeps) {
    this.clock = deps.clock ?? systemClock;
    this.limits = {
      perEmail: deps.limits?.perEmail ?? LOGIN_CODE_EMAIL_LIMIT,
      perIp: deps.limits?.perIp ?? LOGIN_CODE_IP_LIMIT,
      perInteraction: deps.limits?.perInteraction ?? LOGIN_CODE_INTERACTION_LIMIT,
      failures: deps.limits?.failures ?? LOGIN_CODE_FAILURE_LIMIT,
    };
  }

  async request(email: string, ip: string, caller: LoginCodeCaller): Promise<LoginCodeRequestResult> {
    const address = normalizeEmail(email);
    const { sql, limiter, logger } = this.deps;
    const { perIp, perInteraction, perEmail } = this.limits;
    const binding = this.bindingHash(caller.interaction);
    // Counted before the address is looked up, so a refusal says nothing about the account; in
    // this order, each only when the ones before allowed the request (one statement).
    // Only browsers not known for the address share the per-address budget: third-party
    // requests cannot use it up for the owner's own browsers.
    const limits = [
      { bucket: "login_code:ip", key: ip, ...perIp, refused: "login code refused: per-IP limit" },
      { bucket: "login_code:interaction", key: `${address}\n${binding}`, ...perInteraction, refused: "login code refused: per-sign-in limit" },
      ...(caller.knownDevice ? [] : [{ bucket: "login_code:email", key: address, ...perEmail, refused: "login code refused: per-address limit" }]),
    ];
    const counted = await limiter.hitInOrder(limits);
    const refused = counted.findIndex((r) => !r.allowed);
    if (refused >= 0) {
      logger.warn({ email: maskEmail(address) }, limits[refused]!.refused);
      return { status: "rate_limited" };
    }

    const code = String(randomInt(0, CODE_SPACE)).padStart(LOGIN_CODE_DIGITS, "0");
    const codeHash = this.hash(address, code);
    const now = this.clock();
    const expiresAt = new Date(now.getTime() + LOGIN_CODE_TTL_SECONDS * 1000);
    // One statement for known and unknown addresses alike: find the user, retire this
    // interaction's live codes for the address, store the new one (with no user for an unknown
    // address). Inactive (pending) users get codes too: after logging in they are shown the
    // pending-activation page.
    const [user] = await sql<{ id: string; first_name: string }[]>`
      with u as (select id, first_name from altalune_users where email = ${address}),
      retired as (
        update altalune_login_codes set consumed_at = ${now}
        where email = ${address} and binding_hash = ${binding} and consumed_at is null),
      stored as (
        insert into altalune_login_codes (email, user_id, binding_hash, code_hash, expires_at, created_at)
        values (${address}, (select id from u), ${binding}, ${codeHash}, ${expiresAt}, ${now}))
      select id, first_name from u`;
    if (!user) {
      logger.info({ email: maskEmail(address) }, "login code requested for an unknown address (nothing sent)");
      return { status: "sent" };
    }
    logger.info({ email: maskEmail(address) }, "login code issued");
    const mail = loginCodeMail({
      brand: this.deps.brand,
      name: user.first_name.trim() || address,
      code,
      expiresMinutes: LOGIN_CODE_TTL_SECONDS / 60,
    });
    this.deliver(address, { to: address, ...mail });
    return { status: "sent" };
  }

  async verify(email: string, code: string, caller: LoginCodeCaller): Promise<LoginCodeVerifyResult> {
    const address = normalizeEmail(email);
    const candidate = code.replace(/[\s-]/g, "");
    // Not a code at all (typo, empty): refused without costing an attempt.
    if (!CODE_PATTERN.test(candidate)) return { ok: false, reason: "invalid" };
    const candidateHash = this.hash(address, candidate);
    const binding = this.bindingHash(caller.interaction);
    const failureKey = this.failureKey(address);
    const { failures } = this.limits;
    const now = this.clock();
    return this.deps.sql.begin(async (tx) => {
      // The address's failure budget, locked (created empty for any address, known or not):
      // guesses from unknown browsers against any of its codes take turns, so the cap is exact.
      // A known browser skips it: neither counted nor stopped.
      if (!caller.knownDevice) {
        // One statement creates it if missing and locks it either way: DO UPDATE locks the row
        // as SELECT … FOR UPDATE would (its SET changes nothing) and returns it.
        const [budget] = await tx<{ recent: number }[]>`
          insert into altalune_login_code_failures as b (email_hash, failed_at, expires_at)
          values (${failureKey}, '{}', ${now})
          on conflict (email_hash) do update set expires_at = b.expires_at
          returning cardinality(array(
            select f from unnest(b.failed_at) as f
            where f > ${now}::timestamptz - make_interval(secs => ${failures.windowSeconds}))) as recent`;
        if ((budget?.recent ?? 0) >= failures.limit) {
          this.deps.logger.warn({ email: maskEmail(address) }, "login code refused: per-address wrong-guess budget used up");
          return { ok: false, reason: "guess_limit" } as const;
        }
      }
      // The newest code of this interaction for the address, locked: concurrent verifies take
      // turns and each sees the attempts and consumption of the one before, so five wrong
      // guesses are five and a code logs in once.
      const [row] = await tx<CodeRow[]>`
        select id, user_id, code_hash, attempts, expires_at, consumed_at from altalune_login_codes
        where email = ${address} and binding_hash = ${binding} order by id desc limit 1 for update`;
      if (!row || row.consumed_at !== null) return { ok: false, reason: "invalid" } as const;
      if (row.attempts >= LOGIN_CODE_MAX_ATTEMPTS) return { ok: false, reason: "too_many_attempts" } as const;
      if (row.expires_at.getTime() <= now.getTime()) return { ok: false, reason: "expired" } as const;
      // The comparison runs for a stand-in row too (no user): it never matches, whatever was typed.
      const matches = safeEqual(candidateHash, row.code_hash) && row.user_id !== null;
      if (!matches) {
        const attempts = row.attempts + 1;
        await tx`update altalune_login_codes set attempts = ${attempts} where id = ${row.id}`;
        if (!caller.knownDevice) {
          await tx`
            update altalune_login_code_failures set
              failed_at = array(
                select f from unnest(failed_at) as f
                where f > ${now}::timestamptz - make_interval(secs => ${failures.windowSeconds}) order by f) || ${now}::timestamptz,
              expires_at = ${now}::timestamptz + make_interval(secs => ${failures.windowSeconds})
            where email_hash = ${failureKey}`;
        }
        this.deps.logger.info({ email: maskEmail(address), attempts }, "wrong login code");
        return { ok: false, reason: attempts >= LOGIN_CODE_MAX_ATTEMPTS ? "too_many_attempts" : "invalid", counted: true } as const;
      }
      // The code is spent (whatever follows), and reading it proves the address: verified, and
      // activated_at records the first time. is_active is an administrator's decision and stays
      // as it is. The address must still be the user's (it may have changed since the code was
      // sent). Both in one statement.
      const [user] = await tx<{ id: string; public_id: string; is_active: boolean }[]>`
        with spent as (update altalune_login_codes set consumed_at = ${now} where id = ${row.id})
        update altalune_users
        set email_verified = true, activated_at = coalesce(activated_at, ${now}), updated_at = ${now}
        where id = ${row.user_id} and email = ${address}
        returning id, public_id, is_active`;
      if (!user) return { ok: false, reason: "invalid" } as const;
      return { ok: true, userId: String(user.id), userPublicId: user.public_id, active: user.is_active } as const;
    });
  }

  /** Deletes codes that expired more than a day ago, and failure budgets that emptied. Returns how many. */
  async purgeExpired(): Promise<number> {
    const now = this.clock();
    const cutoff = new Date(now.getTime() - PURGE_GRACE_SECONDS * 1000);
    const codes = await this.deps.sql`delete from altalune_login_codes where expires_at < ${cutoff}`;
    const budgets = await this.deps.sql`delete from altalune_login_code_failures where expires_at <= ${now}`;
    return codes.count + budgets.count;
  }

  /** Resolves when every mail handed to the mailer so far has been sent or has failed. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private hash(address: string, code: string): string {
    // The address is part of the MAC input, so equal codes of two users have unrelated hashes.
    return createHmac("sha256", this.deps.pepper).update(`${address}\n${code}`, "utf8").digest("hex");
  }

  /** What a code is bound to: the interaction uid, keyed (a dump does not hold the uid). */
  private bindingHash(interaction: string): string {
    if (interaction === "") throw new Error("a login code needs the interaction it belongs to");
    return createHmac("sha256", this.deps.pepper).update(`interaction\0${interaction}`, "utf8").digest("hex");
  }

  /** Key of the address's failure budget, keyed so a dump cannot be checked against addresses. */
  private failureKey(address: string): string {
    return createHmac("sha256", this.deps.pepper).update(`failures\0${address}`, "utf8").digest("hex");
  }

  /**
   * Sends after the answer: an SMTP round trip would otherwise tell a known address from an
   * unknown one by timing. A failure is logged; the user asks for a new code.
   */
  private deliver(address: string, msg: Parameters<Mailer["send"]>[0]): void {
    const p = this.deps.mailer
      .send(msg)
      .catch((e: unknown) => {
        this.deps.logger.error({ email: maskEmail(address), err: e instanceof Error ? e.message : String(e) }, "login code mail failed");
      })
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
