import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "@altalune/core";
import type { TestDatabase } from "@altalune/db/testing";
import { captureLogger, createUser, manualClock } from "@altalune/test-kit";
import { SmtpMailer } from "../mail/mailer.js";
import { startSmtpReceiver, type SmtpReceiver } from "../mail/testing.js";
import { RateLimiter } from "../rate-limit/rate-limiter.js";
import { useMailTestbed } from "../testing/mail-testbed-hooks.js";
import { deriveKnownDeviceKey, KnownDevices, KNOWN_DEVICE_MAX_ADDRESSES } from "./known-device.js";
import { deriveLoginCodeKey, LoginCodes, type LoginCodeCaller, type LoginCodesDeps } from "./login-codes.js";
import { maskEmail } from "./mask-email.js";

let db: TestDatabase;
let smtp: SmtpReceiver;
let mailer: SmtpMailer;
const pepper = deriveLoginCodeKey(randomBytes(32));
const { logger, lines: logLines } = captureLogger("info");

useMailTestbed({ max: 15 }, (testbed) => ({ db, smtp, mailer } = testbed));

let seq = 0;
/** A unique address, client IP and sign-in (interaction) per call, so tests do not share budgets. */
function fresh(): { email: string; ip: string; at: LoginCodeCaller } {
  seq++;
  // No digits in the address: the mail greets by address and the test reads the 8-digit code from it.
  const tag = [...randomBytes(6)].map((b) => String.fromCharCode(97 + (b % 26))).join("");
  return { email: `user.${tag}@example.test`, ip: `198.51.100.${seq}`, at: browser() };
}

/** Another sign-in by a browser that has not signed in to the address before. */
function browser(knownDevice = false): LoginCodeCaller {
  return { interaction: randomBytes(16).toString("base64url"), knownDevice };
}

const insertUser = (email: string, opts: { active: boolean; firstName?: string; activatedAt?: Date }) => createUser(db.sql, { email, ...opts });

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
  const code = /^ {4}(\d{8})$/m.exec(mail.text)?.[1];
  if (!code) throw new Error(`no code in mail: ${mail.text}`);
  return code;
}

const wrong = (code: string) => String((Number(code) + 1) % 100_000_000).padStart(8, "0");

describe("LoginCodes", () => {
  it("sends a pending (inactive) user a code that logs in once, verifies the email and leaves is_active alone", async () => {
    const { email, ip, at } = fresh();
    const user = await insertUser(email, { active: false, firstName: "Ada" });
    const { clock, codes } = setup();
    expect(await codes.request(`  ${email.toUpperCase()} `, ip, at)).toEqual({ status: "sent" });
    const mail = await smtp.waitFor(email);
    expect(mail.subject).toBe("Your Authalune login code");
    expect(mail.text).toContain("Hello Ada,");
    expect(mail.text).toContain("expires in 5 minutes");
    const code = /^ {4}(\d{8})$/m.exec(mail.text)![1]!;
    clock.advance(10);
    expect(await codes.verify(email.toUpperCase(), ` ${code.slice(0, 4)} ${code.slice(4)} `, at)).toEqual({
      ok: true,
      userId: user.id,
      userPublicId: user.publicId,
      active: false,
    });
    const [row] = await db.sql`select is_active, email_verified, activated_at from altalune_users where id = ${user.id}`;
    expect(row).toEqual({ is_active: false, email_verified: true, activated_at: clock.now() });
    // Single use.
    expect(await codes.verify(email, code, at)).toEqual({ ok: false, reason: "invalid" });
  });

  it("keeps an active user's first activation time", async () => {
    const { email, ip, at } = fresh();
    const activatedAt = new Date("2020-05-05T00:00:00Z");
    const user = await insertUser(email, { active: true, activatedAt });
    const { codes } = setup();
    await codes.request(email, ip, at);
    const result = await codes.verify(email, await codeFromMail(email), at);
    expect(result).toMatchObject({ ok: true, active: true, userPublicId: user.publicId });
    const [row] = await db.sql`select activated_at, email_verified from altalune_users where id = ${user.id}`;
    expect(row).toEqual({ activated_at: activatedAt, email_verified: true });
  });

  it("answers an unknown address exactly like a known one at every step, and mails nothing", async () => {
    const unknown = fresh();
    const known = fresh();
    await insertUser(known.email, { active: true });
    const { clock, codes } = setup();
    const answers = async ({ email, ip, at }: ReturnType<typeof fresh>) => {
      const out: unknown[] = [await codes.request(email, ip, at)];
      // Wrong codes up to and past the per-code limit, then the same after expiry of a new code.
      for (let i = 0; i < 6; i++) out.push(await codes.verify(email, "00000000", at));
      out.push(await codes.request(email, ip, at));
      clock.advance(300);
      out.push(await codes.verify(email, "00000000", at));
      clock.advance(-300);
      return out;
    };
    const knownAnswers = await answers(known);
    const unknownAnswers = await answers(unknown);
    expect(unknownAnswers).toEqual(knownAnswers);
    expect(unknownAnswers).toEqual([
      { status: "sent" },
      ...Array.from({ length: 4 }, () => ({ ok: false, reason: "invalid", counted: true })),
      { ok: false, reason: "too_many_attempts", counted: true },
      { ok: false, reason: "too_many_attempts" },
      { status: "sent" },
      { ok: false, reason: "expired" },
    ]);
    await codes.drain();
    await expect(smtp.waitFor(unknown.email, 300)).rejects.toThrow(/no mail/);
    for (let i = 0; i < 2; i++) await smtp.waitFor(known.email);
    // A stand-in row with no user: counted like a real code, never accepted, never mailed.
    const rows = await db.sql`select user_id, attempts from altalune_login_codes where email = ${unknown.email} order by id`;
    expect(rows).toEqual([{ user_id: null, attempts: 5 }, { user_id: null, attempts: 0 }]);
  });

  it("never accepts a stand-in code for an unknown address, even when the typed code matches its hash", async () => {
    const { email, ip, at } = fresh();
    const { codes } = setup();
    await codes.request(email, ip, at);
    // Give the stand-in the hash of a code we choose (same key and input as LoginCodes.hash), then type it.
    const chosen = "24681357";
    const hash = createHmac("sha256", pepper).update(`${email}\n${chosen}`, "utf8").digest("hex");
    await db.sql`update altalune_login_codes set code_hash = ${hash} where email = ${email}`;
    expect(await codes.verify(email, chosen, at)).toEqual({ ok: false, reason: "invalid", counted: true });
    const [row] = await db.sql`select attempts, consumed_at from altalune_login_codes where email = ${email}`;
    expect(row).toEqual({ attempts: 1, consumed_at: null });
  });

  it("stores no usable code: only an HMAC under a key the database does not have", async () => {
    const { email, ip, at } = fresh();
    await insertUser(email, { active: true });
    const { codes } = setup();
    await codes.request(email, ip, at);
    const code = await codeFromMail(email);
    const rows = await db.sql<{ code_hash: string; t: string }[]>`
      select code_hash, c::text as t from altalune_login_codes c where email = ${email}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.t).not.toContain(code);
    expect(rows[0]!.code_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]!.code_hash).not.toBe(sha256Hex(code));
    // A different key (another deployment, or a guess) does not verify the same code.
    const other = setup({ pepper: deriveLoginCodeKey(randomBytes(32)) }).codes;
    expect(await other.verify(email, code, at)).toEqual({ ok: false, reason: "invalid" });
    expect(await codes.verify(email, code, at)).toMatchObject({ ok: true });
    // The mail text is the only place the code was written; the log never has it.
    expect(logLines.join("")).not.toContain(code);
  });

  it.each([
    { after: 299, expected: "ok" },
    { after: 300, expected: "expired" },
    { after: 3600, expected: "expired" },
  ])("a code $after s after issue: $expected", async ({ after, expected }) => {
    const { email, ip, at } = fresh();
    await insertUser(email, { active: true });
    const { clock, codes } = setup();
    await codes.request(email, ip, at);
    const code = await codeFromMail(email);
    clock.advance(after);
    const result = await codes.verify(email, code, at);
    if (expected === "ok") expect(result).toMatchObject({ ok: true });
    else expect(result).toEqual({ ok: false, reason: "expired" });
  });

  it("kills a code after 5 wrong attempts: afterwards even the right code is refused", async () => {
    const { email, ip, at } = fresh();
    await insertUser(email, { active: true });
    const { codes } = setup();
    await codes.request(email, ip, at);
    const code = await codeFromMail(email);
    // Not-a-code input costs no attempt.
    expect(await codes.verify(email, "12ab", at)).toEqual({ ok: false, reason: "invalid" });
    for (let i = 1; i <= 4; i++) expect(await codes.verify(email, wrong(code), at)).toEqual({ ok: false, reason: "invalid", counted: true });
    expect(await codes.verify(email, wrong(code), at)).toEqual({ ok: false, reason: "too_many_attempts", counted: true });
    expect(await codes.verify(email, code, at)).toEqual({ ok: false, reason: "too_many_attempts" });
    const [row] = await db.sql`select attempts, consumed_at from altalune_login_codes where email = ${email}`;
    expect(row).toEqual({ attempts: 5, consumed_at: null });
    // A new code starts over.
    await codes.request(email, ip, at);
    expect(await codes.verify(email, await codeFromMail(email), at)).toMatchObject({ ok: true });
  });

  it("lets exactly one of 10 concurrent verifies with the right code log in", async () => {
    const { email, ip, at } = fresh();
    await insertUser(email, { active: true });
    const { codes } = setup();
    await codes.request(email, ip, at);
    const code = await codeFromMail(email);
    const results = await Promise.all(Array.from({ length: 10 }, () => codes.verify(email, code, at)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === "invalid")).toBe(true);
  });

  it("counts concurrent wrong guesses exactly: 12 in parallel leave 5 attempts and a dead code", async () => {
    const { email, ip, at } = fresh();
    await insertUser(email, { active: true });
    const { codes } = setup();
    await codes.request(email, ip, at);
    const code = await codeFromMail(email);
    const results = await Promise.all(Array.from({ length: 12 }, () => codes.verify(email, wrong(code), at)));
    expect(results.filter((r) => !r.ok && r.reason === "invalid")).toHaveLength(4);
    expect(results.filter((r) => !r.ok && r.reason === "too_many_attempts")).toHaveLength(8);
    const [row] = await db.sql`select attempts from altalune_login_codes where email = ${email}`;
    expect(row).toEqual({ attempts: 5 });
    expect(await codes.verify(email, code, at)).toEqual({ ok: false, reason: "too_many_attempts" });
  });

  it("retires the previous code when a new one is requested", async () => {
    const { email, ip, at } = fresh();
    await insertUser(email, { active: true });
    const { clock, codes } = setup();
    await codes.request(email, ip, at);
    const first = await codeFromMail(email);
    clock.advance(30);
    await codes.request(email, ip, at);
    const second = await codeFromMail(email);
    if (first !== second) expect(await codes.verify(email, first, at)).toEqual({ ok: false, reason: "invalid", counted: true });
    expect(await codes.verify(email, second, at)).toMatchObject({ ok: true });
    const rows = await db.sql`select consumed_at from altalune_login_codes where email = ${email} order by id`;
    expect(rows.every((r) => r["consumed_at"] !== null)).toBe(true);
  });

  it("allows 3 requests per address per sign-in per 15 minutes, whether or not the address exists", async () => {
    for (const known of [true, false]) {
      const { email, at } = fresh();
      if (known) await insertUser(email, { active: true });
      const { clock, codes } = setup();
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await codes.request(email, `192.0.2.${i + 1}`, at)).status);
      expect(statuses).toEqual(["sent", "sent", "sent", "rate_limited"]);
      // Another sign-in for the same address is not affected.
      expect(await codes.request(email, "192.0.2.60", browser())).toEqual({ status: "sent" });
      clock.advance(900);
      expect(await codes.request(email, "192.0.2.50", at)).toEqual({ status: "sent" });
      await codes.drain();
      expect(smtp.messages.filter((m) => m.to === email)).toHaveLength(known ? 5 : 0);
      if (known) for (let i = 0; i < 5; i++) await smtp.waitFor(email);
    }
  });

  it("a new request from another sign-in leaves the owner's live code alone", async () => {
    const { email, ip, at } = fresh();
    await insertUser(email, { active: true });
    const { codes } = setup();
    await codes.request(email, ip, at);
    const mine = await codeFromMail(email);
    for (let i = 0; i < 3; i++) {
      const attacker = browser();
      for (let j = 0; j < 3; j++) expect(await codes.request(email, `203.0.113.${i}`, attacker)).toEqual({ status: "sent" });
    }
    await codes.drain();
    for (let i = 0; i < 9; i++) await smtp.waitFor(email);
    expect(await codes.verify(email, mine, at)).toMatchObject({ ok: true });
  });

  it("a code works only in the sign-in that asked for it; guesses elsewhere do not touch it", async () => {
    const { email, ip, at } = fresh();
    await insertUser(email, { active: true });
    const { codes } = setup();
    await codes.request(email, ip, at);
    const code = await codeFromMail(email);
    const elsewhere = browser();
    // No code of its own: refused. With a code of its own: the victim's code is still wrong there.
    expect(await codes.verify(email, code, elsewhere)).toEqual({ ok: false, reason: "invalid" });
    await codes.request(email, "203.0.113.9", elsewhere);
    await smtp.waitFor(email);
    expect(await codes.verify(email, code, elsewhere)).toEqual({ ok: false, reason: "invalid", counted: true });
    expect(await codes.verify(email, code, { ...at, knownDevice: true })).toMatchObject({ ok: true });
    const rows = await db.sql`select attempts from altalune_login_codes where email = ${email} order by id`;
    expect(rows).toEqual([{ attempts: 0 }, { attempts: 1 }]);
  });

  it("limits codes per address to 20 an hour for browsers not known for it; a known browser is not counted or stopped", async () => {
    const { email } = fresh();
    await insertUser(email, { active: true });
    const { clock, codes } = setup();
    const statuses = [];
    for (let i = 0; i < 21; i++) statuses.push((await codes.request(email, `192.0.2.${100 + i}`, browser())).status);
    expect(statuses.filter((s) => s === "sent")).toHaveLength(20);
    expect(statuses[20]).toBe("rate_limited");
    expect(await codes.request(email, "192.0.2.200", browser(true))).toEqual({ status: "sent" });
    clock.advance(3600);
    expect(await codes.request(email, "192.0.2.201", browser())).toEqual({ status: "sent" });
    await codes.drain();
    for (let i = 0; i < 22; i++) await smtp.waitFor(email);
  });

  it("stops guesses from unknown browsers after 20 wrong ones per address in 24 h, fresh codes included; known browsers go on", async () => {
    for (const exists of [true, false]) {
      const { email } = fresh();
      if (exists) await insertUser(email, { active: true });
      const { clock, codes } = setup();
      // Four sign-ins from four places, five wrong guesses each (the last of each kills its code).
      for (let i = 0; i < 4; i++) {
        const attacker = browser();
        await codes.request(email, `203.0.113.${10 + i}`, attacker);
        if (exists) await smtp.waitFor(email);
        for (let j = 0; j < 5; j++) expect(await codes.verify(email, "00000000", attacker)).toMatchObject({ ok: false });
        clock.advance(60);
      }
      // A fresh code in a fresh sign-in: refused before it is even compared, right or wrong.
      const late = browser();
      await codes.request(email, "203.0.113.20", late);
      const lateCode = exists ? await codeFromMail(email) : "12345678";
      expect(await codes.verify(email, lateCode, late)).toEqual({ ok: false, reason: "guess_limit" });
      if (!exists) continue;
      // The owner's known browser: a wrong guess neither counts nor is refused, the right code logs in.
      const owner = browser(true);
      await codes.request(email, "198.51.100.250", owner);
      const ownerCode = await codeFromMail(email);
      expect(await codes.verify(email, wrong(ownerCode), owner)).toEqual({ ok: false, reason: "invalid", counted: true });
      expect(await codes.verify(email, ownerCode, owner)).toMatchObject({ ok: true });
      // Rolling 24 hours: when the first failures leave the window, unknown browsers may guess again.
      clock.advance(86_400 - 4 * 60 + 1);
      expect(await codes.verify(email, lateCode, late)).toMatchObject({ ok: false, reason: "expired" });
      const next = browser();
      await codes.request(email, "203.0.113.21", next);
      expect(await codes.verify(email, await codeFromMail(email), next)).toMatchObject({ ok: true });
    }
  });

  it("counts concurrent wrong guesses on different codes exactly: 30 in parallel, 20 counted", async () => {
    const { email } = fresh();
    await insertUser(email, { active: true });
    const { codes } = setup();
    const sessions = Array.from({ length: 6 }, () => browser());
    for (const [i, s] of sessions.entries()) await codes.request(email, `203.0.113.${30 + i}`, s);
    await codes.drain();
    for (let i = 0; i < 6; i++) await smtp.waitFor(email);
    const results = await Promise.all(sessions.flatMap((s) => Array.from({ length: 5 }, () => codes.verify(email, "00000000", s))));
    expect(results.filter((r) => !r.ok && r.reason === "guess_limit")).toHaveLength(10);
    const [{ attempts } = { attempts: -1 }] = await db.sql<{ attempts: number }[]>`
      select sum(attempts)::int as attempts from altalune_login_codes where email = ${email}`;
    expect(attempts).toBe(20);
  });

  it("limits requests per client IP across addresses", async () => {
    const { ip } = fresh();
    const { codes } = setup({ limits: { perIp: { limit: 4, windowSeconds: 900 } } });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await codes.request(fresh().email, ip, browser())).status);
    expect(statuses).toEqual(["sent", "sent", "sent", "sent", "rate_limited", "rate_limited"]);
    expect((await codes.request(fresh().email, fresh().ip, browser())).status).toBe("sent");
    // The default per-IP limit is 20 per 15 minutes.
    const defaults = setup().codes;
    const ip2 = fresh().ip;
    const results = [];
    for (let i = 0; i < 21; i++) results.push((await defaults.request(fresh().email, ip2, browser())).status);
    expect(results.filter((s) => s === "sent")).toHaveLength(20);
    expect(results[20]).toBe("rate_limited");
  });

  it("refuses a code sent to an address the user no longer has", async () => {
    const { email, ip, at } = fresh();
    const user = await insertUser(email, { active: true });
    const { codes } = setup();
    await codes.request(email, ip, at);
    const code = await codeFromMail(email);
    await db.sql`update altalune_users set email = ${`moved.${email}`} where id = ${user.id}`;
    expect(await codes.verify(email, code, at)).toEqual({ ok: false, reason: "invalid" });
    const [row] = await db.sql`select email_verified from altalune_users where id = ${user.id}`;
    expect(row).toEqual({ email_verified: false });
  });

  it("logs a failed delivery and still answers 'sent'", async () => {
    const { email, ip, at } = fresh();
    await insertUser(email, { active: true });
    const closed = await startSmtpReceiver();
    await closed.close();
    const broken = new SmtpMailer(closed.url, "a@example.test");
    const { codes } = setup({ mailer: broken });
    expect(await codes.request(email, ip, at)).toEqual({ status: "sent" });
    await codes.drain();
    expect(logLines.some((l) => l.includes("login code mail failed") && l.includes(maskEmail(email)))).toBe(true);
  });

  it("purges codes a day after they expired", async () => {
    const { email, ip, at } = fresh();
    await insertUser(email, { active: true });
    const { clock, codes } = setup();
    await db.sql`delete from altalune_login_codes`;
    await db.sql`delete from altalune_login_code_failures`;
    await codes.request(email, ip, at);
    const code = await codeFromMail(email);
    // A wrong guess starts the address's failure budget: emptied 24 hours later, then deleted.
    clock.advance(10);
    await codes.verify(email, wrong(code), at);
    clock.advance(86_400 - 10);
    expect(await codes.purgeExpired()).toBe(0);
    clock.advance(10);
    expect(await codes.purgeExpired()).toBe(1);
    expect(await db.sql`select 1 from altalune_login_code_failures`).toHaveLength(0);
    clock.advance(300 - 10 - 1);
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

describe("KnownDevices", () => {
  const devices = new KnownDevices(deriveKnownDeviceKey(randomBytes(32)));

  it("knows the addresses a cookie was issued for, and no others", () => {
    const one = devices.remember(undefined, "ada@example.test");
    const two = devices.remember(one, "grace@example.test");
    expect(devices.knows(one, "ada@example.test")).toBe(true);
    expect(devices.knows(one, "grace@example.test")).toBe(false);
    expect(devices.knows(two, "ada@example.test")).toBe(true);
    expect(devices.knows(two, "grace@example.test")).toBe(true);
    expect(devices.knows(undefined, "ada@example.test")).toBe(false);
    // The addresses are not readable from the value; only characters a cookie value may hold.
    expect(two).not.toContain("ada");
    expect(two).toMatch(/^[A-Za-z0-9_~.-]+$/);
  });

  it("refuses a forged, altered, truncated or foreign-key cookie", () => {
    const genuine = devices.remember(undefined, "ada@example.test");
    const [list = "", mac = ""] = genuine.split(".");
    const other = new KnownDevices(deriveKnownDeviceKey(randomBytes(32)));
    const forgedTag = other.remember(undefined, "ada@example.test").split(".")[0]!;
    for (const bad of [
      `${forgedTag}.${mac}`,
      `${list}~${list}.${mac}`,
      `${list}.${mac.slice(0, -2)}`,
      `${list}.`,
      list,
      other.remember(undefined, "ada@example.test"),
      "",
    ]) {
      expect(devices.knows(bad, "ada@example.test")).toBe(false);
    }
    // A forged value does not survive into the next cookie.
    expect(devices.knows(devices.remember(other.remember(undefined, "x@example.test"), "ada@example.test"), "x@example.test")).toBe(false);
  });

  it(`keeps the ${KNOWN_DEVICE_MAX_ADDRESSES} most recent addresses`, () => {
    let cookie: string | undefined;
    for (let i = 0; i <= KNOWN_DEVICE_MAX_ADDRESSES; i++) cookie = devices.remember(cookie, `user${i}@example.test`);
    expect(devices.knows(cookie, "user0@example.test")).toBe(false);
    for (let i = 1; i <= KNOWN_DEVICE_MAX_ADDRESSES; i++) expect(devices.knows(cookie, `user${i}@example.test`)).toBe(true);
    // Signing in again moves an address to the front instead of adding it twice.
    const again = devices.remember(cookie, "user1@example.test");
    expect(again.split(".")[0]!.split("~")).toHaveLength(KNOWN_DEVICE_MAX_ADDRESSES);
  });
});
