import { createHmac, hkdfSync, randomInt } from "node:crypto";
import { safeEqual, type Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import type { Mailer } from "../mail/mailer.js";
import { loginCodeMail } from "../mail/templates.js";
import type { RateLimiter } from "../rate-limit/rate-limiter.js";
import { maskEmail } from "./mask-email.js";

export const LOGIN_CODE_TTL_SECONDS = 300;
export const LOGIN_CODE_MAX_ATTEMPTS = 5;
/** At most 3 codes per address per 15 minutes (as the original). */
export const LOGIN_CODE_EMAIL_LIMIT = { limit: 3, windowSeconds: 900 } as const;
/** Per client IP: room for a household or office behind one address, not for enumeration. */
export const LOGIN_CODE_IP_LIMIT = { limit: 20, windowSeconds: 900 } as const;
/** Codes and tokens are deleted this long after they expired (kept a while for support questions). */
export const PURGE_GRACE_SECONDS = 86_400;

const CODE_PATTERN = /^\d{6}$/;

/**
 * The key codes are hashed under, derived from ENCRYPTION_KEY (HKDF, its own label, so the
 * derived key is useless for sealing and vice versa). A keyed hash, because a plain hash of a
 * 6-digit code is reversed by trying all million codes; with the key kept out of the database a
 * dump reveals nothing (and the code is dead five minutes later anyway).
 */
export function deriveLoginCodeKey(encryptionKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", encryptionKey, Buffer.alloc(0), "altalune:login-code-hmac:v1", 32));
}

export interface LoginCodesDeps {
  sql: Sql;
  mailer: Mailer;
  limiter: RateLimiter;
  logger: Logger;
  brand: string;
  /** HMAC key for stored codes: deriveLoginCodeKey(config.encryptionKey). */
  pepper: Buffer;
  clock?: () => Date;
  limits?: {
    perEmail?: { limit: number; windowSeconds: number };
    perIp?: { limit: number; windowSeconds: number };
  };
}

export type LoginCodeRequestResult = { status: "sent" | "rate_limited" };

export type LoginCodeVerifyResult =
  | { ok: true; userId: string; userPublicId: string; active: boolean }
  | { ok: false; reason: "invalid" | "expired" | "too_many_attempts" };

interface CodeRow {
  id: string;
  user_id: string;
  code_hash: string;
  attempts: number;
  expires_at: Date;
  consumed_at: Date | null;
}

/**
 * Email one-time codes: 6 digits, valid 5 minutes, single use, 5 wrong guesses kill a code, a
 * new code retires the previous ones. The answer to a request is the same whether or not the
 * address belongs to a user, and so is the work done before answering (the code is generated
 * and hashed and one statement runs either way; the mail goes out after the answer).
 */
export class LoginCodes {
  private readonly clock: () => Date;
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly deps: LoginCodesDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  async request(email: string, ip: string): Promise<LoginCodeRequestResult> {
    const address = normalizeEmail(email);
    const { sql, limiter, logger } = this.deps;
    const perIp = this.deps.limits?.perIp ?? LOGIN_CODE_IP_LIMIT;
    const perEmail = this.deps.limits?.perEmail ?? LOGIN_CODE_EMAIL_LIMIT;
    // Counted before the address is looked up, so a refusal says nothing about the account.
    const byIp = await limiter.hit("login_code:ip", ip, perIp.limit, perIp.windowSeconds);
    if (!byIp.allowed) {
      logger.warn({ email: maskEmail(address) }, "login code refused: per-IP limit");
      return { status: "rate_limited" };
    }
    const byEmail = await limiter.hit("login_code:email", address, perEmail.limit, perEmail.windowSeconds);
    if (!byEmail.allowed) {
      logger.warn({ email: maskEmail(address) }, "login code refused: per-address limit");
      return { status: "rate_limited" };
    }

    const code = String(randomInt(0, 1_000_000)).padStart(6, "0");
    const codeHash = this.hash(address, code);
    const now = this.clock();
    const expiresAt = new Date(now.getTime() + LOGIN_CODE_TTL_SECONDS * 1000);
    // One statement for known and unknown addresses alike: find the user, retire their live
    // codes, store the new one. Inactive (pending) users get codes too: after logging in they
    // are shown the pending-activation page.
    const [user] = await sql<{ id: string; first_name: string }[]>`
      with u as (select id, first_name from altalune_users where email = ${address}),
      retired as (
        update altalune_login_codes set consumed_at = ${now}
        where email = ${address} and consumed_at is null and exists (select 1 from u)),
      stored as (
        insert into altalune_login_codes (email, user_id, code_hash, expires_at, created_at)
        select ${address}, u.id, ${codeHash}, ${expiresAt}, ${now} from u)
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

  async verify(email: string, code: string): Promise<LoginCodeVerifyResult> {
    const address = normalizeEmail(email);
    const candidate = code.replace(/[\s-]/g, "");
    // Not a code at all (typo, empty): refused without costing an attempt.
    if (!CODE_PATTERN.test(candidate)) return { ok: false, reason: "invalid" };
    const candidateHash = this.hash(address, candidate);
    const now = this.clock();
    return this.deps.sql.begin(async (tx) => {
      // The newest code of the address, locked: concurrent verifies take turns and each sees the
      // attempts and consumption of the one before, so five wrong guesses are five and a code
      // logs in once.
      const [row] = await tx<CodeRow[]>`
        select id, user_id, code_hash, attempts, expires_at, consumed_at from altalune_login_codes
        where email = ${address} order by id desc limit 1 for update`;
      if (!row || row.consumed_at !== null) return { ok: false, reason: "invalid" } as const;
      if (row.attempts >= LOGIN_CODE_MAX_ATTEMPTS) return { ok: false, reason: "too_many_attempts" } as const;
      if (row.expires_at.getTime() <= now.getTime()) return { ok: false, reason: "expired" } as const;
      if (!safeEqual(candidateHash, row.code_hash)) {
        const attempts = row.attempts + 1;
        await tx`update altalune_login_codes set attempts = ${attempts} where id = ${row.id}`;
        this.deps.logger.info({ email: maskEmail(address), attempts }, "wrong login code");
        return { ok: false, reason: attempts >= LOGIN_CODE_MAX_ATTEMPTS ? "too_many_attempts" : "invalid" } as const;
      }
      await tx`update altalune_login_codes set consumed_at = ${now} where id = ${row.id}`;
      // Reading the code proves the address: verified, and activated_at records the first time.
      // is_active is an administrator's decision and stays as it is. The address must still be
      // the user's (it may have changed since the code was sent).
      const [user] = await tx<{ id: string; public_id: string; is_active: boolean }[]>`
        update altalune_users
        set email_verified = true, activated_at = coalesce(activated_at, ${now}), updated_at = ${now}
        where id = ${row.user_id} and email = ${address}
        returning id, public_id, is_active`;
      if (!user) return { ok: false, reason: "invalid" } as const;
      return { ok: true, userId: String(user.id), userPublicId: user.public_id, active: user.is_active } as const;
    });
  }

  /** Deletes codes that expired more than a day ago. Returns how many. */
  async purgeExpired(): Promise<number> {
    const cutoff = new Date(this.clock().getTime() - PURGE_GRACE_SECONDS * 1000);
    const result = await this.deps.sql`delete from altalune_login_codes where expires_at < ${cutoff}`;
    return result.count;
  }

  /** Resolves when every mail handed to the mailer so far has been sent or has failed. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private hash(address: string, code: string): string {
    // The address is part of the MAC input, so equal codes of two users have unrelated hashes.
    return createHmac("sha256", this.deps.pepper).update(`${address}\n${code}`, "utf8").digest("hex");
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
