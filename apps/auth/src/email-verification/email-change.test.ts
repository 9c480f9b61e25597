import { decodeJwt } from "jose";
import type * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { createLogger } from "@altalune/core";
import { createTestDatabase } from "@altalune/db/testing";
import { UserService } from "@altalune/proto";
import { callError, detailOf, startTestApi, type TestApi } from "@altalune/resources/testing";
import { SmtpMailer, type Mailer } from "../mail/mailer.js";
import { RateLimiter } from "../rate-limit/rate-limiter.js";
import { createClient, createUser, startTestAuth, type TestAuth, type TestClient } from "../testing/auth-harness.js";
import { Browser, type Page } from "../testing/browser.js";
import { authorizationUrl, browserLogin, exchange, relyingParty, startLogin } from "../testing/login-flow.js";
import { EmailVerification } from "./email-verification.js";
import { verificationUserEvents } from "./user-events.js";

// UpdateUser against a real Resources API and a real auth server on one database, mail through
// the real SMTP receiver: a changed address is pending until the link mailed to it is used.

const logger = createLogger({ level: "silent" });
let auth: TestAuth;
/** The Resources API as `altalune dev` wires it: the auth side's listener mails at once. */
let api: TestApi;
/** A second Resources API without any listener (`altalune serve` without mail): the auth server's poll sends. */
let bare: TestApi;
let app: TestClient;
let rp: oidc.Configuration;
let seq = 0;
const address = (label: string) => `${label}-${++seq}@example.test`;

beforeAll(async () => {
  auth = await startTestAuth({ server: { emailChangePollMs: 100 } });
  const listenerMailer = new SmtpMailer(auth.smtp.url, "Altalune <auth@example.test>");
  const verification = new EmailVerification({
    sql: auth.sql,
    mailer: listenerMailer,
    limiter: new RateLimiter(auth.sql),
    logger,
    brand: auth.config.branding.authServerName,
    baseUrl: auth.issuer,
  });
  api = await startTestApi({}, { db: auth.db, userEvents: verificationUserEvents(verification, logger) });
  bare = await startTestApi({}, { db: auth.db });
  app = await createClient(auth.sql, { name: "Third Party App" });
  rp = await relyingParty(auth.issuer, app);
});

afterAll(async () => {
  await bare?.close();
  await api?.close();
  await auth?.close();
});

const users = (which: TestApi = api) => which.client(UserService, "connect-json");

/** The confirmation link in the newest unread mail to `to`. */
async function linkFrom(to: string): Promise<string> {
  const mail = await auth.smtp.waitFor(to, 10_000);
  expect(mail.subject).toMatch(/^Confirm your new email address/);
  const link = mail.text.split("\n").find((l) => l.startsWith(`${auth.issuer}/confirm-email-change?token=`));
  if (!link) throw new Error(`no link in mail:\n${mail.text}`);
  return link;
}

async function expectNotice(to: string, newEmail: string): Promise<void> {
  const mail = await auth.smtp.waitFor(to, 10_000);
  expect(mail.subject).toMatch(/^Email address change requested/);
  expect(mail.text).toContain(newEmail);
  expect(mail.text).not.toContain("confirm-email-change");
}

/** Opens the link (GET shows a button, changes nothing) and presses the button. */
async function confirm(link: string): Promise<Page> {
  const browser = new Browser(auth.issuer);
  const page = await browser.navigate(link);
  if (page.status !== 200) return page;
  return browser.submit(page, /\/confirm-email-change$/);
}

async function stored(publicId: string) {
  const [row] = await auth.sql<{ email: string; pending_email: string | null; email_verified: boolean }[]>`
    select email, pending_email, email_verified from altalune_users where public_id = ${publicId}`;
  return row;
}

/** The subject of an access token obtained by signing in with `email` in a fresh browser. */
async function signInAs(email: string): Promise<string> {
  const start = await authorizationUrl(rp, app);
  const { callback } = await browserLogin(new Browser(auth.issuer), auth.smtp, start, email);
  const tokens = await exchange(rp, start, callback);
  return decodeJwt(tokens.access_token).sub!;
}

/** Asks for a login code for `email`: true when a code mail arrived. */
async function codeMailed(email: string): Promise<boolean> {
  const page = await startLogin(new Browser(auth.issuer), await authorizationUrl(rp, app), email);
  expect(page.status).toBe(200);
  return auth.smtp.waitFor(email, 700).then(
    () => true,
    () => false,
  );
}

describe("UpdateUser of another user's email", () => {
  it("leaves the superadmin's email in place: the old address signs in, the new one signs nothing in", async () => {
    const admin = api.superadmin;
    const attacker = address("attacker");
    const res = await users().updateUser({ id: admin.publicId, email: attacker, firstName: "Super", lastName: "Admin" });
    expect(res.user).toMatchObject({ email: admin.email, pendingEmail: attacker });
    expect(res.message).toBe(`User updated successfully; a confirmation link is being sent to ${attacker}, and the email address changes once it is confirmed`);
    expect(await stored(admin.publicId)).toMatchObject({ email: admin.email, pending_email: attacker });
    expect((await users().getUser({ id: admin.publicId })).user).toMatchObject({ email: admin.email, pendingEmail: attacker });

    // The listener mailed before the call returned: the notice to the owner, the link to the new address.
    await expectNotice(admin.email, attacker);
    await linkFrom(attacker);

    // No login code for the pending address, and none stored against the account.
    expect(await codeMailed(attacker)).toBe(false);
    const [codes] = await auth.sql<{ n: number }[]>`
      select count(*)::int as n from altalune_login_codes where email = ${attacker} and user_id is not null`;
    expect(codes?.n).toBe(0);
    // The owner still signs in with the old address and gets the superadmin's token.
    expect(await signInAs(admin.email)).toBe(admin.publicId);

    // Cancelled again (the current address): nothing pending, the link is dead.
    const back = await users().updateUser({ id: admin.publicId, email: admin.email, firstName: "Super", lastName: "Admin" });
    expect(back.user?.pendingEmail).toBeUndefined();
    expect(back.message).toBe("User updated successfully; the pending email change was cancelled");
  });

  it("refuses an address another account has (60501), changing nothing", async () => {
    const a = await createUser(auth.sql, { email: address("holder") });
    const b = await createUser(auth.sql, { email: address("taker") });
    const e = await callError(users().updateUser({ id: b.publicId, email: a.email, firstName: "B", lastName: "B" }));
    expect(e.code).toBe(Code.AlreadyExists);
    expect(detailOf(e)).toEqual({ code: "60501", meta: { email: a.email } });
    expect(await stored(b.publicId)).toMatchObject({ email: b.email, pending_email: null });
    const [outbox] = await auth.sql<{ n: number }[]>`select count(*)::int as n from altalune_email_change_outbox o join altalune_users u on u.id = o.user_id where u.public_id = ${b.publicId}`;
    expect(outbox?.n).toBe(0);
  });
});

describe("confirmation", () => {
  it("the link mailed to the new address makes it effective (verified); the old address got the notice", async () => {
    const user = await createUser(auth.sql, { email: address("mover"), firstName: "Mo" });
    const next = address("moved");
    await users().updateUser({ id: user.publicId, email: next, firstName: "Mo", lastName: "Ver" });
    await expectNotice(user.email, next);
    const link = await linkFrom(next);

    // Opening the link shows the address and a button; only pressing it changes anything.
    const browser = new Browser(auth.issuer);
    const shown = await browser.navigate(link);
    expect(shown.status).toBe(200);
    expect(shown.body).toContain(next);
    expect(await stored(user.publicId)).toMatchObject({ email: user.email, pending_email: next });

    const done = await browser.submit(shown, /\/confirm-email-change$/);
    expect(done.status).toBe(200);
    expect(done.body).toContain("Email changed");
    expect(await stored(user.publicId)).toEqual({ email: next, pending_email: null, email_verified: true });
    const got = (await users().getUser({ id: user.publicId })).user!;
    expect(got).toMatchObject({ email: next, emailVerified: true });
    expect(got.pendingEmail).toBeUndefined();

    // From now on the new address signs in, the old one does not.
    expect(await signInAs(next)).toBe(user.publicId);
    expect(await codeMailed(user.email)).toBe(false);

    // Single use.
    const again = await confirm(link);
    expect(again.status).toBe(400);
    expect(again.body).toContain("has expired, has already been used");
  });

  it("a newer UpdateUser replaces the pending change: the older link stops working", async () => {
    const user = await createUser(auth.sql, { email: address("fickle") });
    const first = address("first");
    const second = address("second");
    await users().updateUser({ id: user.publicId, email: first, firstName: "F", lastName: "K" });
    await expectNotice(user.email, first);
    const firstLink = await linkFrom(first);
    await users().updateUser({ id: user.publicId, email: second, firstName: "F", lastName: "K" });
    await expectNotice(user.email, second);
    const secondLink = await linkFrom(second);

    const stale = await confirm(firstLink);
    expect(stale.status).toBe(400);
    expect(await stored(user.publicId)).toMatchObject({ email: user.email, pending_email: second });
    expect((await confirm(secondLink)).status).toBe(200);
    expect(await stored(user.publicId)).toMatchObject({ email: second, pending_email: null });
  });

  it("fails with a clear message when another account got the address first, and drops the change", async () => {
    const user = await createUser(auth.sql, { email: address("slow") });
    const wanted = address("wanted");
    await users().updateUser({ id: user.publicId, email: wanted, firstName: "S", lastName: "L" });
    await expectNotice(user.email, wanted);
    const link = await linkFrom(wanted);
    // The pending address is not reserved: someone else is created with it meanwhile.
    const other = await createUser(auth.sql, { email: wanted });

    const page = await confirm(link);
    expect(page.status).toBe(400);
    expect(page.body).toContain("now belongs to another account");
    expect(await stored(user.publicId)).toMatchObject({ email: user.email, pending_email: null });
    expect(await stored(other.publicId)).toMatchObject({ email: wanted });
  });
});

describe("a change requested by a narrow administrator", () => {
  it("is refused at confirmation once the user was given more than the requester holds", async () => {
    const admin = await createUser(auth.sql, { email: address("helpdesk") });
    const token = await api.token({ sub: admin.publicId, perms: ["user:write", "dashboard:read"], memberships: {} });
    const user = await createUser(auth.sql, { email: address("newhire") });
    const wanted = address("attacker");
    await api.client(UserService, "connect-json", { token }).updateUser({ id: user.publicId, email: wanted, firstName: "N", lastName: "H" });
    await expectNotice(user.email, wanted);
    const link = await linkFrom(wanted);
    // Root promotes the new hire before the link is used.
    await auth.sql`
      insert into altalune_users_permissions (user_id, permission_id)
      select u.id, p.id from altalune_users u, altalune_permissions p
      where u.public_id = ${user.publicId} and p.system_key = 'iam:write'`;

    const page = await confirm(link);
    expect(page.status).toBe(400);
    expect(page.body).toContain("given more permissions after the change was requested");
    expect(await stored(user.publicId)).toMatchObject({ email: user.email, pending_email: null });
  });

  it("a requester who covers the user's permissions completes it", async () => {
    const admin = await createUser(auth.sql, { email: address("helpdesk2") });
    const token = await api.token({ sub: admin.publicId, perms: ["user:write", "dashboard:read"], memberships: {} });
    const user = await createUser(auth.sql, { email: address("plain") });
    const wanted = address("plain-new");
    await api.client(UserService, "grpc-js", { token }).updateUser({ id: user.publicId, email: wanted, firstName: "P", lastName: "N" });
    await expectNotice(user.email, wanted);
    expect((await confirm(await linkFrom(wanted))).status).toBe(200);
    expect(await stored(user.publicId)).toMatchObject({ email: wanted, pending_email: null });
  });
});

describe("without a listener in the Resources API's process", () => {
  it("the change is durable: the auth server's poll sends both mails from the outbox", async () => {
    const user = await createUser(auth.sql, { email: address("polled") });
    const next = address("polled-new");
    const res = await users(bare).updateUser({ id: user.publicId, email: next, firstName: "P", lastName: "L" });
    expect(res.user?.pendingEmail).toBe(next);
    await expectNotice(user.email, next);
    expect((await confirm(await linkFrom(next))).status).toBe(200);
    expect(await stored(user.publicId)).toMatchObject({ email: next, pending_email: null });
    const [outbox] = await auth.sql<{ n: number }[]>`select count(*)::int as n from altalune_email_change_outbox`;
    expect(outbox?.n).toBe(0);
  });

  it("a failed send retires its link and keeps the row for a retry", async () => {
    // A database of its own: the running auth server's poll would otherwise send the row first.
    const db = await createTestDatabase();
    try {
      const user = await createUser(db.sql, { email: address("unlucky") });
      const next = address("unlucky-new");
      await db.sql.begin(async (tx) => {
        await tx`update altalune_users set pending_email = ${next} where id = ${user.id}`;
        await tx`insert into altalune_email_change_outbox (user_id, old_email, new_email) values (${user.id}, ${user.email}, ${next})`;
      });
      const failing: Mailer = { send: () => Promise.reject(new Error("smtp down")) };
      const changes = new EmailVerification({ sql: db.sql, mailer: failing, limiter: new RateLimiter(db.sql), logger, brand: "Altalune", baseUrl: auth.issuer })
        .emailChanges;
      expect(await changes.sendFor(user.publicId)).toBe("failed");
      const [row] = await db.sql<{ attempts: number; later: boolean }[]>`
        select attempts, next_attempt_at > CURRENT_TIMESTAMP as later from altalune_email_change_outbox where user_id = ${user.id}`;
      expect(row).toEqual({ attempts: 1, later: true });
      const links = await db.sql<{ used: boolean }[]>`
        select used_at is not null as used from altalune_email_verification_tokens where user_id = ${user.id}`;
      expect(links).toEqual([{ used: true }]);
      // Backing off: neither the listener's path nor the poll takes it before its time.
      expect(await changes.sendFor(user.publicId)).toBe("none");
      expect(await changes.sendDue()).toBe(0);
    } finally {
      await db.drop();
    }
  });
});
