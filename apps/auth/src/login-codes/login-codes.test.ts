import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, newPublicId, sha256Hex } from "@altalune/core";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { SmtpMailer } from "../mail/mailer.js";
import { startSmtpReceiver, type SmtpReceiver } from "../mail/testing.js";
import { RateLimiter } from "../rate-limit/rate-limiter.js";
import { deriveLoginCodeKey, LoginCodes, type LoginCodesDeps } from "./login-codes.js";
import { maskEmail } from "./mask-email.js";

let db: TestDatabase;
let smtp: SmtpReceiver;
let mailer: SmtpMailer;
const pepper = deriveLoginCodeKey(randomBytes(32));
const logLines: string[] = [];
const logger = createLogger({
  level: "info",
  destination: new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  }),
});

beforeAll(async () => {
  db = await createTestDatabase({ max: 15 });
  smtp = await startSmtpReceiver();
  mailer = new SmtpMailer(smtp.url, "Authalune <auth@example.test>");
});
afterAll(async () => {
  await mailer?.close();
  await smtp?.close();
  await db?.drop();
});

function manualClock(start = "2030-01-01T00:00:00Z") {
  let now = new Date(start).getTime();
  return { now: () => new Date(now), advance: (s: number) => void (now += s * 1000) };
}

let seq = 0;
/** A unique address and client IP per call, so tests do not share rate-limit budgets. */
function fresh(): { email: string; ip: string } {
  seq++;
  // No digits in the address: the mail greets by address and the test reads the 6-digit code from it.
  const tag = [...randomBytes(6)].map((b) => String.fromCharCode(97 + (b % 26))).join("");
  return { email: `user.${tag}@example.test`, ip: `198.51.100.${seq}` };
}

async function insertUser(email: string, opts: { active: boolean; firstName?: string; activatedAt?: Date }) {
  const publicId = newPublicId();
  const [row] = await db.sql<{ id: string }[]>`
    insert into altalune_users (public_id, email, first_name, is_active, activated_at)
    values (${publicId}, ${email}, ${opts.firstName ?? ""}, ${opts.active}, ${opts.activatedAt ?? null}) returning id`;
  return { id: row!.id, publicId };
}

function setup(over: Partial<LoginCodesDeps> = {}) {
  const clock = manualClock();
  const codes = new LoginCodes({
    sql: db.sql,
    mailer,
    limiter: new RateLimiter(db.sql, clock.now),
    logger,
    brand: "Authalune",
    pepper,
    clock: clock.now,
    ...over,
  });
  return { clock, codes };
}

async function codeFromMail(to: string): Promise<string> {
  const mail = await smtp.waitFor(to);
  const code = /^ {4}(\d{6})$/m.exec(mail.text)?.[1];
  if (!code) throw new Error(`no code in mail: ${mail.text}`);
  return code;
}

const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, "0");

describe("LoginCodes", () => {
  it("sends a pending (inactive) user a code that logs in once, verifies the email and leaves is_active alone", async () => {
    const { email, ip } = fresh();
    const user = await insertUser(email, { active: false, firstName: "Ada" });
    const { clock, codes } = setup();
    expect(await codes.request(`  ${email.toUpperCase()} `, ip)).toEqual({ status: "sent" });
    const mail = await smtp.waitFor(email);
    expect(mail.subject).toBe("Your Authalune login code");
    expect(mail.text).toContain("Hello Ada,");
    expect(mail.text).toContain("expires in 5 minutes");
    const code = /^ {4}(\d{6})$/m.exec(mail.text)![1]!;
    clock.advance(10);
    expect(await codes.verify(email.toUpperCase(), ` ${code.slice(0, 3)} ${code.slice(3)} `)).toEqual({
      ok: true,
      userId: user.id,
      userPublicId: user.publicId,
      active: false,
    });
    const [row] = await db.sql`select is_active, email_verified, activated_at from altalune_users where id = ${user.id}`;
    expect(row).toEqual({ is_active: false, email_verified: true, activated_at: clock.now() });
    // Single use.
    expect(await codes.verify(email, code)).toEqual({ ok: false, reason: "invalid" });
  });

  it("keeps an active user's first activation time", async () => {
    const { email, ip } = fresh();
    const activatedAt = new Date("2020-05-05T00:00:00Z");
    const user = await insertUser(email, { active: true, activatedAt });
    const { codes } = setup();
    await codes.request(email, ip);
    const result = await codes.verify(email, await codeFromMail(email));
    expect(result).toMatchObject({ ok: true, active: true, userPublicId: user.publicId });
    const [row] = await db.sql`select activated_at, email_verified from altalune_users where id = ${user.id}`;
    expect(row).toEqual({ activated_at: activatedAt, email_verified: true });
  });

  it("answers an unknown address exactly like a known one, sends nothing and stores nothing", async () => {
    const { email, ip } = fresh();
    const { codes } = setup();
    expect(await codes.request(email, ip)).toEqual({ status: "sent" });
    await codes.drain();
    await expect(smtp.waitFor(email, 300)).rejects.toThrow(/no mail/);
    expect(await db.sql`select 1 from altalune_login_codes where email = ${email}`).toHaveLength(0);
    expect(await codes.verify(email, "123456")).toEqual({ ok: false, reason: "invalid" });
  });

  it("stores no usable code: only an HMAC under a key the database does not have", async () => {
    const { email, ip } = fresh();
    await insertUser(email, { active: true });
    const { codes } = setup();
    await codes.request(email, ip);
    const code = await codeFromMail(email);
    const rows = await db.sql<{ code_hash: string; t: string }[]>`
      select code_hash, c::text as t from altalune_login_codes c where email = ${email}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.t).not.toContain(code);
    expect(rows[0]!.code_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]!.code_hash).not.toBe(sha256Hex(code));
    // A different key (another deployment, or a guess) does not verify the same code.
    const other = setup({ pepper: deriveLoginCodeKey(randomBytes(32)) }).codes;
    expect(await other.verify(email, code)).toEqual({ ok: false, reason: "invalid" });
    expect(await codes.verify(email, code)).toMatchObject({ ok: true });
    // The mail text is the only place the code was written; the log never has it.
    expect(logLines.join("")).not.toContain(code);
  });

  it.each([
    { after: 299, expected: "ok" },
    { after: 300, expected: "expired" },
    { after: 3600, expected: "expired" },
  ])("a code $after s after issue: $expected", async ({ after, expected }) => {
    const { email, ip } = fresh();
    await insertUser(email, { active: true });
    const { clock, codes } = setup();
    await codes.request(email, ip);
    const code = await codeFromMail(email);
    clock.advance(after);
    const result = await codes.verify(email, code);
    if (expected === "ok") expect(result).toMatchObject({ ok: true });
    else expect(result).toEqual({ ok: false, reason: "expired" });
  });

  it("kills a code after 5 wrong attempts: afterwards even the right code is refused", async () => {
    const { email, ip } = fresh();
    await insertUser(email, { active: true });
    const { codes } = setup();
    await codes.request(email, ip);
    const code = await codeFromMail(email);
    // Not-a-code input costs no attempt.
    expect(await codes.verify(email, "12ab")).toEqual({ ok: false, reason: "invalid" });
    for (let i = 1; i <= 4; i++) expect(await codes.verify(email, wrong(code))).toEqual({ ok: false, reason: "invalid" });
    expect(await codes.verify(email, wrong(code))).toEqual({ ok: false, reason: "too_many_attempts" });
    expect(await codes.verify(email, code)).toEqual({ ok: false, reason: "too_many_attempts" });
    const [row] = await db.sql`select attempts, consumed_at from altalune_login_codes where email = ${email}`;
    expect(row).toEqual({ attempts: 5, consumed_at: null });
    // A new code starts over.
    await codes.request(email, ip);
    expect(await codes.verify(email, await codeFromMail(email))).toMatchObject({ ok: true });
  });

  it("lets exactly one of 10 concurrent verifies with the right code log in", async () => {
    const { email, ip } = fresh();
    await insertUser(email, { active: true });
    const { codes } = setup();
    await codes.request(email, ip);
    const code = await codeFromMail(email);
    const results = await Promise.all(Array.from({ length: 10 }, () => codes.verify(email, code)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === "invalid")).toBe(true);
  });

  it("counts concurrent wrong guesses exactly: 12 in parallel leave 5 attempts and a dead code", async () => {
    const { email, ip } = fresh();
    await insertUser(email, { active: true });
    const { codes } = setup();
    await codes.request(email, ip);
    const code = await codeFromMail(email);
    const results = await Promise.all(Array.from({ length: 12 }, () => codes.verify(email, wrong(code))));
    expect(results.filter((r) => !r.ok && r.reason === "invalid")).toHaveLength(4);
    expect(results.filter((r) => !r.ok && r.reason === "too_many_attempts")).toHaveLength(8);
    const [row] = await db.sql`select attempts from altalune_login_codes where email = ${email}`;
    expect(row).toEqual({ attempts: 5 });
    expect(await codes.verify(email, code)).toEqual({ ok: false, reason: "too_many_attempts" });
  });

  it("retires the previous code when a new one is requested", async () => {
    const { email, ip } = fresh();
    await insertUser(email, { active: true });
    const { clock, codes } = setup();
    await codes.request(email, ip);
    const first = await codeFromMail(email);
    clock.advance(30);
    await codes.request(email, ip);
    const second = await codeFromMail(email);
    if (first !== second) expect(await codes.verify(email, first)).toEqual({ ok: false, reason: "invalid" });
    expect(await codes.verify(email, second)).toMatchObject({ ok: true });
    const rows = await db.sql`select consumed_at from altalune_login_codes where email = ${email} order by id`;
    expect(rows.every((r) => r["consumed_at"] !== null)).toBe(true);
  });

  it("allows 3 requests per address per 15 minutes, whether or not the address exists", async () => {
    for (const known of [true, false]) {
      const { email } = fresh();
      if (known) await insertUser(email, { active: true });
      const { clock, codes } = setup();
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await codes.request(email, `192.0.2.${i + 1}`)).status);
      expect(statuses).toEqual(["sent", "sent", "sent", "rate_limited"]);
      clock.advance(900);
      expect(await codes.request(email, "192.0.2.50")).toEqual({ status: "sent" });
      await codes.drain();
      expect(smtp.messages.filter((m) => m.to === email)).toHaveLength(known ? 4 : 0);
      if (known) for (let i = 0; i < 4; i++) await smtp.waitFor(email);
    }
  });

  it("limits requests per client IP across addresses", async () => {
    const { ip } = fresh();
    const { codes } = setup({ limits: { perIp: { limit: 4, windowSeconds: 900 } } });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await codes.request(fresh().email, ip)).status);
    expect(statuses).toEqual(["sent", "sent", "sent", "sent", "rate_limited", "rate_limited"]);
    expect((await codes.request(fresh().email, fresh().ip)).status).toBe("sent");
    // The default per-IP limit is 20 per 15 minutes.
    const defaults = setup().codes;
    const ip2 = fresh().ip;
    const results = [];
    for (let i = 0; i < 21; i++) results.push((await defaults.request(fresh().email, ip2)).status);
    expect(results.filter((s) => s === "sent")).toHaveLength(20);
    expect(results[20]).toBe("rate_limited");
  });

  it("refuses a code sent to an address the user no longer has", async () => {
    const { email, ip } = fresh();
    const user = await insertUser(email, { active: true });
    const { codes } = setup();
    await codes.request(email, ip);
    const code = await codeFromMail(email);
    await db.sql`update altalune_users set email = ${`moved.${email}`} where id = ${user.id}`;
    expect(await codes.verify(email, code)).toEqual({ ok: false, reason: "invalid" });
    const [row] = await db.sql`select email_verified from altalune_users where id = ${user.id}`;
    expect(row).toEqual({ email_verified: false });
  });

  it("logs a failed delivery and still answers 'sent'", async () => {
    const { email, ip } = fresh();
    await insertUser(email, { active: true });
    const closed = await startSmtpReceiver();
    await closed.close();
    const broken = new SmtpMailer(closed.url, "a@example.test");
    const { codes } = setup({ mailer: broken });
    expect(await codes.request(email, ip)).toEqual({ status: "sent" });
    await codes.drain();
    expect(logLines.some((l) => l.includes("login code mail failed") && l.includes(maskEmail(email)))).toBe(true);
  });

  it("purges codes a day after they expired", async () => {
    const { email, ip } = fresh();
    await insertUser(email, { active: true });
    const { clock, codes } = setup();
    await db.sql`delete from altalune_login_codes`;
    await codes.request(email, ip);
    await codeFromMail(email);
    clock.advance(300 + 86_400 - 1);
    expect(await codes.purgeExpired()).toBe(0);
    clock.advance(2);
    expect(await codes.purgeExpired()).toBe(1);
  });
});

describe("maskEmail", () => {
  it.each([
    ["john@x.com", "j***n@x.com"],
    ["jo@x.com", "j***@x.com"],
    ["j@x.com", "j***@x.com"],
    ["ünïcode@例え.jp", "ü***e@例え.jp"],
    ["not-an-email", "***"],
    ["@x.com", "***"],
  ])("%s → %s", (input, masked) => {
    expect(maskEmail(input)).toBe(masked);
  });
});
