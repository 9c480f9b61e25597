import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { newPublicId, sha256Hex } from "@altalune/core";
import type { TestDatabase } from "@altalune/db/testing";
import { captureLogger, createUser, manualClock } from "@altalune/test-kit";
import type { Mailer, SmtpMailer } from "../mail/mailer.js";
import type { SmtpReceiver } from "../mail/testing.js";
import { RateLimiter } from "../rate-limit/rate-limiter.js";
import { useMailTestbed } from "../testing/mail-testbed-hooks.js";
import { EmailVerification } from "./email-verification.js";
import { verificationUserEvents } from "./user-events.js";

let db: TestDatabase;
let smtp: SmtpReceiver;
let mailer: SmtpMailer;
const { logger, lines: logLines } = captureLogger("info");
const BASE_URL = "http://auth.example.test:3300";

useMailTestbed({ max: 15 }, (testbed) => ({ db, smtp, mailer } = testbed));

const insertUser = ({ verified, ...opts }: { active?: boolean; verified?: boolean; firstName?: string } = {}) =>
  createUser(db.sql, { email: `v.${randomBytes(4).toString("hex")}@example.test`, emailVerified: verified, ...opts });

function setup(over: { mailer?: Mailer } = {}) {
  const clock = manualClock();
  const verification = new EmailVerification({
    sql: db.sql,
    mailer: over.mailer ?? mailer,
    limiter: new RateLimiter(db.sql, clock.now),
    logger,
    brand: "Authalune",
    baseUrl: `${BASE_URL}/`,
    clock: clock.now,
  });
  return { clock, verification };
}

async function tokenFromMail(to: string): Promise<string> {
  const mail = await smtp.waitFor(to);
  const link = mail.text.split("\n").find((l) => l.startsWith(`${BASE_URL}/verify-email?token=`));
  if (!link) throw new Error(`no link in mail: ${mail.text}`);
  return new URL(link).searchParams.get("token")!;
}

describe("EmailVerification", () => {
  it("mails a single-use link that verifies the address and records the first activation, not is_active", async () => {
    const user = await insertUser({ active: false, firstName: "Grace" });
    const { clock, verification } = setup();
    expect(await verification.issue(user.publicId)).toEqual({ status: "sent" });
    const mail = smtp.messages.find((m) => m.to === user.email)!;
    expect(mail.subject).toBe("Verify your email address for Authalune");
    expect(mail.text).toContain("Hello Grace,");
    const token = await tokenFromMail(user.email);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Stored as its SHA-256 only.
    const rows = await db.sql<{ token_hash: string; t: string }[]>`
      select token_hash, r::text as t from altalune_email_verification_tokens r where user_id = ${user.id}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(sha256Hex(token));
    expect(rows[0]!.t).not.toContain(token);

    clock.advance(60);
    expect(await verification.verify(token)).toEqual({ ok: true, userPublicId: user.publicId });
    const [u] = await db.sql`select is_active, email_verified, activated_at from altalune_users where id = ${user.id}`;
    expect(u).toEqual({ is_active: false, email_verified: true, activated_at: clock.now() });
    expect(await verification.verify(token)).toEqual({ ok: false, reason: "expired_or_used" });
    expect(await verification.issue(user.publicId)).toEqual({ status: "already_verified" });
  });

  it("answers unknown and already verified users without mailing", async () => {
    const verified = await insertUser({ verified: true });
    const { verification } = setup();
    expect(await verification.issue(newPublicId())).toEqual({ status: "unknown_user" });
    expect(await verification.issue(verified.publicId)).toEqual({ status: "already_verified" });
    await expect(smtp.waitFor(verified.email, 200)).rejects.toThrow(/no mail/);
  });

  it.each([
    { after: 24 * 3600 - 1, expected: { ok: true } },
    { after: 24 * 3600, expected: { ok: false, reason: "expired_or_used" } },
  ])("a link $after s after issue", async ({ after, expected }) => {
    const user = await insertUser();
    const { clock, verification } = setup();
    await verification.issue(user.publicId);
    const token = await tokenFromMail(user.email);
    clock.advance(after);
    expect(await verification.verify(token)).toMatchObject(expected);
  });

  it("retires older links when a new one is issued", async () => {
    const user = await insertUser();
    const { verification } = setup();
    await verification.issue(user.publicId);
    const first = await tokenFromMail(user.email);
    await verification.issue(user.publicId);
    const second = await tokenFromMail(user.email);
    expect(await verification.verify(first)).toEqual({ ok: false, reason: "expired_or_used" });
    expect(await verification.verify(second)).toEqual({ ok: true, userPublicId: user.publicId });
  });

  it("allows 3 mails per user per 15 minutes", async () => {
    const user = await insertUser();
    const { clock, verification } = setup();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await verification.issue(user.publicId)).status);
    expect(statuses).toEqual(["sent", "sent", "sent", "rate_limited"]);
    clock.advance(900);
    expect(await verification.issue(user.publicId)).toEqual({ status: "sent" });
    for (let i = 0; i < 4; i++) await smtp.waitFor(user.email);
  });

  it.each([
    { token: undefined, reason: "missing" },
    { token: "  ", reason: "missing" },
    { token: "short", reason: "invalid" },
    { token: "<script>alert(1)</script>", reason: "invalid" },
    { token: randomBytes(32).toString("base64url"), reason: "invalid" },
  ])("refuses token $token: $reason", async ({ token, reason }) => {
    expect(await setup().verification.verify(token)).toEqual({ ok: false, reason });
  });

  it("lets exactly one of 10 concurrent uses of a link succeed", async () => {
    const user = await insertUser();
    const { verification } = setup();
    await verification.issue(user.publicId);
    const token = await tokenFromMail(user.email);
    const results = await Promise.all(Array.from({ length: 10 }, () => verification.verify(token)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === "expired_or_used")).toHaveLength(9);
  });

  it("does not verify an address the user no longer has", async () => {
    const user = await insertUser();
    const { verification } = setup();
    await verification.issue(user.publicId);
    const token = await tokenFromMail(user.email);
    await db.sql`update altalune_users set email = ${`new.${user.email}`} where id = ${user.id}`;
    expect(await verification.verify(token)).toEqual({ ok: false, reason: "invalid" });
    const [u] = await db.sql`select email_verified from altalune_users where id = ${user.id}`;
    expect(u).toEqual({ email_verified: false });
  });

  it("keeps the two kinds of link apart: an email-change link does not verify, and a verification link does not change the email", async () => {
    const user = await insertUser();
    const { verification } = setup();
    const changeToken = randomBytes(32).toString("base64url");
    await db.sql`
      insert into altalune_email_verification_tokens (user_id, email, token_hash, expires_at, purpose)
      values (${user.id}, ${user.email}, ${sha256Hex(changeToken)}, '2030-01-02T00:00:00Z', 'email_change')`;
    expect(await verification.verify(changeToken)).toEqual({ ok: false, reason: "invalid" });
    const [left] = await db.sql`select used_at from altalune_email_verification_tokens where token_hash = ${sha256Hex(changeToken)}`;
    expect(left).toEqual({ used_at: null });

    await verification.issue(user.publicId);
    const verifyToken = await tokenFromMail(user.email);
    expect(await verification.emailChanges.confirm(verifyToken)).toEqual({ ok: false, reason: "invalid" });
    expect(await verification.verify(verifyToken)).toEqual({ ok: true, userPublicId: user.publicId });
  });

  it("purges links a day after they expired", async () => {
    await db.sql`delete from altalune_email_verification_tokens`;
    const user = await insertUser();
    const { clock, verification } = setup();
    await verification.issue(user.publicId);
    await smtp.waitFor(user.email);
    clock.advance(24 * 3600 + 86_400 - 1);
    expect(await verification.purgeExpired()).toBe(0);
    clock.advance(2);
    expect(await verification.purgeExpired()).toBe(1);
  });
});

describe("verificationUserEvents", () => {
  it("mails new unverified users, skips verified ones, and logs instead of failing when mail fails", async () => {
    const events = verificationUserEvents(setup().verification, logger);
    const pending = await insertUser({ active: false });
    await events.userCreated({ publicId: pending.publicId, emailVerified: false });
    expect(await tokenFromMail(pending.email)).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const verified = await insertUser({ verified: true });
    await events.userCreated({ publicId: verified.publicId, emailVerified: true });
    await expect(smtp.waitFor(verified.email, 200)).rejects.toThrow(/no mail/);

    const failing: Mailer = { send: () => Promise.reject(new Error("smtp down")) };
    const broken = verificationUserEvents(setup({ mailer: failing }).verification, logger);
    const unlucky = await insertUser();
    await expect(broken.userCreated({ publicId: unlucky.publicId, emailVerified: false })).resolves.toBeUndefined();
    expect(logLines.some((l) => l.includes("verification mail for a new user failed") && l.includes(unlucky.publicId))).toBe(true);
  });
});
