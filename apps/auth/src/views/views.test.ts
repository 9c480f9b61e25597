import { describe, expect, it } from "vitest";
import { escapeHtml, html, safeUrl, SafeHtml, unsafeRaw } from "./html.js";
import { layout } from "./layout.js";
import { API_SCOPES } from "@altalune/rpc";
import { describeApiScope, describeScope, errorMessage, hasApiScopeText, noticeMessage } from "./messages.js";
import { codePage, consentPage, errorPage, loggedOutPage, loginPage, logoutConfirmPage, pendingActivationPage, verifyEmailResultPage } from "./pages.js";

const EVIL = `"><script>alert('x')</script><img src=x onerror=alert(1)>`;
const ESCAPED = "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;";

/** No markup an attacker could have placed survived, and the hostile text is there, escaped. */
function expectNeutralized(page: string) {
  expect(page).not.toMatch(/<script/i);
  expect(page).not.toMatch(/<img/i);
  expect(page).not.toContain(`alert('x')`);
  expect(page).toContain(ESCAPED);
}

/** Every form carries the CSRF token (escaped) in a hidden input. */
function expectCsrfInEveryForm(page: string, token: string) {
  const forms = page.match(/<form\b[\s\S]*?<\/form>/g) ?? [];
  expect(forms.length).toBeGreaterThan(0);
  for (const form of forms) {
    expect(form).toContain(`<input type="hidden" name="csrf_token" value="${escapeHtml(token)}">`);
    expect(form).toMatch(/^<form method="post" action="[^"]*"[ >]/);
  }
}

const base = { brand: EVIL, nonce: "n0nce+/=" };

describe("html", () => {
  it("escapes interpolations, nests SafeHtml, joins arrays, drops null/undefined/false", () => {
    const inner = html`<b>${"<i>"}</b>`;
    expect(html`<p title="${`a"b'c`}">${inner}${["<x>", 1, null, undefined, false, html`<br>`]}</p>`.value).toBe(
      `<p title="a&quot;b&#39;c"><b>&lt;i&gt;</b>&lt;x&gt;1<br></p>`,
    );
    expect(html`${unsafeRaw("<hr>")}`).toBeInstanceOf(SafeHtml);
    expect(String(html`${unsafeRaw("<hr>")}`)).toBe("<hr>");
  });

  it.each([
    ["/interaction/abc/login", "/interaction/abc/login"],
    ["https://accounts.example.com/o?x=1", "https://accounts.example.com/o?x=1"],
    ["javascript:alert(1)", "#"],
    ["JaVaScRiPt:alert(1)", "#"],
    ["data:text/html,<script>", "#"],
    ["//evil.example", "#"],
    ["/\\evil.example", "#"],
    ["not a url", "#"],
  ])("safeUrl(%s) = %s", (input, out) => {
    expect(safeUrl(input)).toBe(out);
  });
});

describe("layout", () => {
  it("puts the nonce on the inline stylesheet and escapes brand and title", () => {
    const page = layout({ brand: EVIL, title: EVIL, body: html`<p>hi</p>`, nonce: `a"b` }).value;
    expect(page.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(page).toContain(`<style nonce="a&quot;b">`);
    expect(page).not.toMatch(/<(link|script)\b/);
    expectNeutralized(page);
    expect(layout({ brand: "B", title: "T", body: html`` }).value).toContain("<style>");
  });
});

describe("pages", () => {
  const csrf = `tok"en<`;

  it("loginPage: email form, providers as links, messages by code", () => {
    const page = loginPage({
      ...base,
      clientName: EVIL,
      email: EVIL,
      error: "rate_limited",
      providers: [
        { id: "google", label: EVIL, href: "/login/google?next=%2F" },
        { id: EVIL, label: "Evil", href: "javascript:alert(1)" },
      ],
      csrfToken: csrf,
      action: "/interaction/u1/login",
    }).value;
    expectNeutralized(page);
    expectCsrfInEveryForm(page, csrf);
    expect(page).toContain('action="/interaction/u1/login"');
    expect(page).toContain(`name="email"`);
    expect(page).toContain(`value="${ESCAPED}"`);
    expect(page).toContain('href="/login/google?next=%2F"');
    expect(page).not.toContain("javascript:");
    expect(page).toContain(errorMessage("rate_limited"));
    expect(page).toContain('nonce="n0nce+/="');

    const plain = loginPage({ brand: "B", providers: [], csrfToken: "t", action: "/a" }).value;
    expect(plain).not.toContain(`<ul class="providers">`);
    expect(plain).not.toContain('class="alert');
  });

  it("codePage: code form and resend form, both with the token", () => {
    const page = codePage({
      ...base,
      maskedEmail: EVIL,
      error: "too_many_attempts",
      notice: "code_sent",
      csrfToken: csrf,
      action: "/interaction/u1/code",
      resendAction: "/interaction/u1/resend",
      changeEmailHref: "/interaction/u1",
    }).value;
    expectNeutralized(page);
    expectCsrfInEveryForm(page, csrf);
    expect(page.match(/<form\b/g)).toHaveLength(2);
    expect(page).toContain('name="code"');
    expect(page).toContain('autocomplete="one-time-code"');
    expect(page).toContain(errorMessage("too_many_attempts"));
    expect(page).toContain(noticeMessage("code_sent"));
    expect(page).toContain("expires in 5 minutes");
  });

  it("consentPage: scope descriptions, Allow and Deny", () => {
    const page = consentPage({
      ...base,
      clientName: EVIL,
      scopes: [{ name: "openid" }, { name: "email" }, { name: "offline_access" }, { name: EVIL }, { name: "x", description: EVIL }],
      csrfToken: csrf,
      action: "/interaction/u1/consent",
      hiddenFields: { [EVIL]: EVIL },
    }).value;
    expectNeutralized(page);
    expectCsrfInEveryForm(page, csrf);
    expect(page).toContain("Verify your identity");
    expect(page).toContain("Access your email address");
    expect(page).toContain("Access your data while you&#39;re offline");
    expect(page).toContain('<button type="submit" name="decision" value="allow">Allow</button>');
    expect(page).toContain('name="decision" value="deny"');
    expect(page).toContain(`<input type="hidden" name="${ESCAPED}" value="${ESCAPED}">`);
    const empty = consentPage({ brand: "B", clientName: "C", scopes: [], csrfToken: "t", action: "/a" }).value;
    expect(empty).toContain("Verify your identity");
  });

  it("pendingActivationPage: resend (unless verified) and sign-out forms", () => {
    const page = pendingActivationPage({
      ...base,
      email: EVIL,
      csrfToken: csrf,
      resendAction: "/resend-verification",
      logoutAction: "/logout",
      notice: "verification_sent",
    }).value;
    expectNeutralized(page);
    expectCsrfInEveryForm(page, csrf);
    expect(page.match(/<form\b/g)).toHaveLength(2);
    expect(page).toContain(noticeMessage("verification_sent"));
    const verified = pendingActivationPage({ brand: "B", email: "e", csrfToken: "t", resendAction: "/r", logoutAction: "/l", emailVerified: true }).value;
    expect(verified.match(/<form\b/g)).toHaveLength(1);
    expect(verified).not.toContain("Resend");
  });

  it("verifyEmailResultPage: success and each failure reason", () => {
    expect(verifyEmailResultPage({ brand: "B", ok: true }).value).toContain("Email verified");
    for (const reason of ["missing", "invalid", "expired_or_used"] as const) {
      const page = verifyEmailResultPage({ ...base, ok: false, reason }).value;
      expectNeutralized(page);
      expect(page).toContain("Email not verified");
    }
    expect(verifyEmailResultPage({ brand: "B", ok: false, reason: "expired_or_used" }).value).toContain("expired or has already been used");
  });

  it("logoutConfirmPage: Yes posts logout=yes with the provider's hidden fields, No posts without it", () => {
    const page = logoutConfirmPage({
      ...base,
      clientName: EVIL,
      csrfToken: csrf,
      action: "/oauth/session/end/confirm",
      hiddenFields: { xsrf: EVIL },
    }).value;
    expectNeutralized(page);
    expectCsrfInEveryForm(page, csrf);
    expect(page).toContain(`<input type="hidden" name="xsrf" value="${ESCAPED}">`);
    expect(page).toContain('name="logout" value="yes"');
    expect(page).toContain("No, stay signed in");
    expect(page).toContain("Sign out?");
  });

  it("loggedOutPage and errorPage escape their text", () => {
    expectNeutralized(loggedOutPage(base).value);
    const page = errorPage({ ...base, title: EVIL, message: EVIL, requestId: EVIL }).value;
    expectNeutralized(page);
    expect(page).toContain("Request ID:");
  });
});

describe("messages", () => {
  it("maps known codes, hides unknown ones behind a generic message", () => {
    expect(errorMessage(undefined)).toBeUndefined();
    expect(errorMessage("")).toBeUndefined();
    expect(errorMessage("invalid")).toBe(errorMessage("invalid_code"));
    expect(errorMessage("expired")).toMatch(/expired/);
    expect(errorMessage(EVIL)).toBe("Something went wrong. Please try again.");
    expect(errorMessage("__proto__")).toBe("Something went wrong. Please try again.");
    expect(noticeMessage("toString")).toBeUndefined();
    expect(describeScope("profile")).toBe("Access your profile information (name)");
    expect(describeScope("custom:scope")).toBe("custom:scope");
  });
});

describe("API scopes on the consent page", () => {
  it("every API scope has words of its own, fixed in code; sensitive writes and deletes are marked", () => {
    expect(API_SCOPES.filter((s) => !hasApiScopeText(s))).toEqual([]);
    expect(describeApiScope("employee:read")).toEqual({ scope: "employee:read", heading: "Employees", text: "Read employees", dangerous: false });
    expect(describeApiScope("iam:write")).toMatchObject({ text: "Change users and their roles and permissions", dangerous: true });
    const dangerous = API_SCOPES.filter((s) => describeApiScope(s).dangerous);
    const expected = ["iam", "user", "role", "permission", "member", "client", "provider"].flatMap((e) => [`${e}:write`, `${e}:delete`]);
    expect(dangerous.sort()).toEqual(expected.filter((s) => API_SCOPES.includes(s)).sort());
    expect(describeApiScope("__proto__:read").text).toBe("Use the API permission __proto__:read");
  });

  it("groups the API scopes by entity, warns once about sensitive ones, escapes everything", () => {
    const page = consentPage({
      ...base,
      clientName: "Reports",
      scopes: [{ name: "openid" }],
      apiScopes: ["employee:read", "employee:write", "user:delete", "role:write"].map(describeApiScope),
      csrfToken: "t0ken",
      action: "/interaction/u1/consent",
    }).value;
    expect(page.match(/role="alert"/g)).toHaveLength(1);
    expect(page).toContain("<strong>Employees</strong>");
    expect(page).toContain('data-scope="user:delete" data-dangerous="true"><strong>Sensitive:</strong> Delete users');
    expect(page).toContain('data-scope="employee:write">Create and change employees');
    const none = consentPage({ ...base, clientName: "C", scopes: [], csrfToken: "t", action: "/a" }).value;
    expect(none).toContain("It will not be able to use");
  });
});
