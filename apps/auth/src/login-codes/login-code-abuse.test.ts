import { randomBytes } from "node:crypto";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, createUser, startTestAuth, type TestAuth, type TestClient } from "../testing/auth-harness.js";
import { Browser, formsOf, type Page } from "../testing/browser.js";
import { authorizationUrl, relyingParty, startLogin } from "../testing/login-flow.js";
import { KNOWN_DEVICE_COOKIE } from "./known-device.js";

// Issue 11, findings 5, 6 and 10, through the real login pages: the code form must not tell a
// known address from an unknown one, a third party must not be able to lock the owner out or
// retire her code, a code works only in the browser sign-in that asked for it, and guessing into
// one address from browsers that never signed in to it is capped at 20 wrong codes a day.

let auth: TestAuth;
let app: TestClient;
let rp: oidc.Configuration;
let ipSeq = 0;

beforeAll(async () => {
  // Each browser gets its own client address (through one trusted proxy), as real attackers and
  // victims would have: the per-IP limit is not what these tests are about.
  auth = await startTestAuth({ env: { TRUSTED_PROXY_HOPS: "1" } });
  app = await createClient(auth.sql, { name: "Abuse Test App" });
  rp = await relyingParty(auth.issuer, app);
});

afterAll(async () => {
  await auth?.close();
});

const letters = (n: number) => [...randomBytes(n)].map((b) => String.fromCharCode(97 + (b % 26))).join("");
/** Addresses that mask alike ("e***z@example.test") and hold no digits (the mail greets by name). */
const address = () => `e${letters(8)}z@example.test`;
const newBrowser = () => new Browser(auth.issuer, { "x-forwarded-for": `198.18.${Math.floor(++ipSeq / 250)}.${ipSeq % 250}` });

/** The code of the oldest unread mail to `to`, whatever its length (so the tests also run against 6-digit codes). */
async function mailedCode(to: string): Promise<string> {
  const mail = await auth.smtp.waitFor(to, 10_000);
  const code = /^ {4}(\d+)$/m.exec(mail.text)?.[1];
  if (!code) throw new Error(`no code in mail:\n${mail.text}`);
  return code;
}
/** A wrong code of the same length. */
const wrongOf = (code: string) => code.replace(/^./, (d) => String((Number(d) + 1) % 10));

async function codePage(browser: Browser, email: string, params: Record<string, string> = {}): Promise<Page> {
  const page = await startLogin(browser, await authorizationUrl(rp, app, { scope: "openid", ...params }), email);
  expect(page.status, page.body).toBe(200);
  expect(page.body).toContain("Check your email");
  return page;
}

const submitCode = (browser: Browser, page: Page, code: string) => browser.submit(page, /\/code$/, { code });

/** From the code page to the client: consent if asked, then the redirect to the client. */
async function finish(browser: Browser, page: Page & { leftTo?: URL }): Promise<URL> {
  if (!page.leftTo && /\/consent"/.test(page.body)) page = await browser.submit(page, /\/consent$/, { decision: "allow" });
  if (!page.leftTo) throw new Error(`did not return to the client: ${page.status}\n${page.body}`);
  return page.leftTo;
}

describe("finding 5: the code form says the same for known and unknown addresses", () => {
  interface Hop {
    status: number;
    location: string | null;
    setCookie: string[];
    body: string;
  }
  // Only values that differ per request anyway: interaction ids, CSRF tokens, CSP nonces,
  // cookie values and expiry dates; everything else must match byte for byte.
  const normalize = (s: string) =>
    s
      .replace(/\/(interaction|oauth\/authorize)\/[A-Za-z0-9_-]+/g, "/$1/:uid")
      .replace(/name="csrf_token" value="[^"]*"/g, 'name="csrf_token" value="*"')
      .replace(/nonce="[^"]*"/g, 'nonce="*"');
  const cookieShape = (c: string) => normalize(c).replace(/^([^=]+)=[^;]*/, "$1=*").replace(/expires=[^;]+/gi, "expires=*");

  /** Like Browser.navigate, but keeps every response on the way (redirects too). */
  async function walk(browser: Browser, url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const hops: Hop[] = [];
    let page = await browser.request(url, init);
    for (;;) {
      hops.push({
        status: page.status,
        location: page.headers.get("location") === null ? null : normalize(new URL(page.headers.get("location")!, page.url).pathname),
        setCookie: page.headers.getSetCookie().map(cookieShape),
        body: normalize(page.body),
      });
      const location = page.headers.get("location");
      if (page.status < 300 || page.status >= 400 || !location || new URL(location, page.url).origin !== auth.issuer) return { hops, page };
      page = await browser.request(new URL(location, page.url).href);
    }
  }
  function submit(browser: Browser, page: Page, action: RegExp, fields: Record<string, string> = {}) {
    const form = formsOf(page.body).find((f) => action.test(f.action));
    if (!form) throw new Error(`no form ${String(action)} in:\n${page.body}`);
    return walk(browser, new URL(form.action, page.url).href, { method: form.method, form: { ...form.fields, ...fields } });
  }

  /** Every response of: sign-in → email → wrong code ×6 → new code → wrong code → expired code. */
  async function trace(email: string, wrong: string): Promise<Hop[][]> {
    const browser = newBrowser();
    const steps: Hop[][] = [];
    let { hops, page } = await walk(browser, (await authorizationUrl(rp, app, { scope: "openid" })).url.href);
    steps.push(hops);
    ({ hops, page } = await submit(browser, page, /\/login$/, { email }));
    steps.push(hops);
    for (let i = 0; i < 6; i++) {
      ({ hops, page } = await submit(browser, page, /\/code$/, { code: wrong }));
      steps.push(hops);
    }
    ({ hops, page } = await submit(browser, page, /\/resend-code$/));
    steps.push(hops);
    ({ hops, page } = await submit(browser, page, /\/code$/, { code: wrong }));
    steps.push(hops);
    await auth.sql`update altalune_login_codes set expires_at = now() - interval '1 second' where email = ${email} and consumed_at is null`;
    ({ hops, page } = await submit(browser, page, /\/code$/, { code: wrong }));
    steps.push(hops);
    return steps;
  }

  it("every status, page and Set-Cookie matches, step by step, through and past the per-code limit", async () => {
    const known = await createUser(auth.sql, { email: address() });
    const unknown = address();
    // A wrong code of the length the server mails (read from a real mail to the known address).
    const probe = newBrowser();
    await codePage(probe, known.email);
    const wrong = wrongOf(await mailedCode(known.email));

    const knownSteps = await trace(known.email, wrong);
    const unknownSteps = await trace(unknown, wrong);
    expect(unknownSteps).toHaveLength(knownSteps.length);
    for (const [i, step] of knownSteps.entries()) expect(unknownSteps[i], `step ${i}`).toEqual(step);

    // And the steps are the ones described: four "not correct", then "too many" from the fifth on.
    const last = (s: Hop[]) => s[s.length - 1]!;
    expect(knownSteps.slice(2, 6).map((s) => [last(s).status, last(s).body.includes("That code is not correct")])).toEqual(Array(4).fill([400, true]));
    expect(knownSteps.slice(6, 8).map((s) => [last(s).status, last(s).body.includes("Too many wrong attempts")])).toEqual(Array(2).fill([400, true]));
    expect(last(knownSteps[8]!).body).toContain("We sent a new code");
    expect(last(knownSteps[10]!).body).toContain("That code has expired");
    // The known address really was mailed (twice), the unknown one never.
    await mailedCode(known.email);
    await mailedCode(known.email);
    expect(auth.smtp.messages.some((m) => m.to === unknown)).toBe(false);
  });
});

describe("finding 6: a third party cannot lock the owner out or retire her code", () => {
  /** What the attack in the finding does: three sign-ins, three code requests each, for her address. */
  async function flood(email: string): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const attacker = newBrowser();
      let page = await codePage(attacker, email);
      for (let j = 0; j < 2; j++) {
        page = await attacker.submit(page, /\/resend-code$/);
        expect(page.status).toBe(200);
      }
    }
    // Their nine mails reach her mailbox; read them so hers is the next one.
    for (let i = 0; i < 9; i++) await mailedCode(email);
  }

  it("after requests from throwaway sessions her browser still gets a code, and her live code still works", async () => {
    const victim = await createUser(auth.sql, { email: address() });
    await flood(victim.email);
    const browser = newBrowser();
    const page = await codePage(browser, victim.email);
    const code = await mailedCode(victim.email);
    await flood(victim.email);
    const callback = await finish(browser, await submitCode(browser, page, code));
    expect(callback.searchParams.get("code")).toEqual(expect.any(String));
  });
});

describe("binding: a code works only in the browser sign-in that asked for it", () => {
  it("the victim's code is refused in the attacker's sign-in, and still logs the victim in", async () => {
    const victim = await createUser(auth.sql, { email: address() });
    // The attacker starts a sign-in for her address first, then she asks for her own code.
    const attacker = newBrowser();
    const attackerPage = await codePage(attacker, victim.email);
    await mailedCode(victim.email);
    const browser = newBrowser();
    const page = await codePage(browser, victim.email);
    const code = await mailedCode(victim.email);

    const refused = await submitCode(attacker, attackerPage, code);
    expect(refused.leftTo).toBeUndefined();
    expect(refused.status).toBe(400);
    expect(refused.body).toContain("That code is not correct");
    expect(attacker.cookie("_session")).toBeUndefined();
    expect(attacker.cookie(KNOWN_DEVICE_COOKIE)).toBeUndefined();

    const callback = await finish(browser, await submitCode(browser, page, code));
    expect(callback.searchParams.get("code")).toEqual(expect.any(String));
  });
});

describe("finding 10: at most 20 wrong codes a day per address from browsers that never signed in to it", () => {
  it("stops unknown browsers after 20 wrong codes, fresh and right codes included; her known browser still signs in", async () => {
    const owner = await createUser(auth.sql, { email: address() });
    // Her browser signs in once and is remembered: an httpOnly, long-lived cookie for /interaction.
    const hers = newBrowser();
    let page: Page & { leftTo?: URL } = await codePage(hers, owner.email);
    const codeForm = formsOf(page.body).find((f) => f.action.endsWith("/code"))!;
    // One request (no redirects followed), to see the response that accepted the code.
    const accepted = await hers.request(codeForm.action, { form: { ...codeForm.fields, code: await mailedCode(owner.email) } });
    expect(accepted.status).toBe(303);
    const deviceCookie = accepted.headers.getSetCookie().find((c) => c.startsWith(`${KNOWN_DEVICE_COOKIE}=`));
    expect(deviceCookie).toBeDefined();
    expect(deviceCookie).toMatch(/; path=\/interaction;/i);
    expect(deviceCookie).toMatch(/; httponly/i);
    expect(deviceCookie).toMatch(/; samesite=lax/i);
    const expires = Date.parse(/expires=([^;]+)/i.exec(deviceCookie!)?.[1] ?? "");
    expect(expires - Date.now()).toBeGreaterThan(300 * 86_400_000);
    expect(deviceCookie).not.toContain(owner.email);

    // Four attackers from four addresses, five wrong codes each: 20 wrong guesses.
    for (let i = 0; i < 4; i++) {
      const attacker = newBrowser();
      let attempt: Page = await codePage(attacker, owner.email);
      const wrong = wrongOf(await mailedCode(owner.email));
      for (let j = 0; j < 5; j++) {
        attempt = await submitCode(attacker, attempt, wrong);
        expect(attempt.status).toBe(400);
      }
    }
    // A fifth, fresh browser with a fresh code — even the right one — is refused.
    const late = newBrowser();
    const latePage = await codePage(late, owner.email);
    const lateCode = await mailedCode(owner.email);
    const refused = await submitCode(late, latePage, lateCode);
    expect(refused.leftTo).toBeUndefined();
    expect(refused.status).toBe(429);
    expect(refused.body).toContain("Too many wrong codes were entered for this address");
    expect(late.cookie("_session")).toBeUndefined();

    // Her remembered browser: a wrong guess is not refused by the cap, and the right code signs her in.
    page = await codePage(hers, owner.email, { prompt: "login" });
    const code = await mailedCode(owner.email);
    page = await submitCode(hers, page, wrongOf(code));
    expect(page.status).toBe(400);
    expect(page.body).toContain("That code is not correct");
    const callback = await finish(hers, await submitCode(hers, page, code));
    expect(callback.searchParams.get("code")).toEqual(expect.any(String));

    // Copying the cookie to another address does not help an attacker: it names her address only.
    const other = await createUser(auth.sql, { email: address() });
    for (let i = 0; i < 4; i++) {
      const attacker = newBrowser();
      let attempt: Page = await codePage(attacker, other.email);
      const wrong = wrongOf(await mailedCode(other.email));
      for (let j = 0; j < 5; j++) attempt = await submitCode(attacker, attempt, wrong);
    }
    const otherPage = await codePage(hers, other.email, { prompt: "login" });
    const otherRefused = await submitCode(hers, otherPage, await mailedCode(other.email));
    expect(otherRefused.status).toBe(429);
  });
});
