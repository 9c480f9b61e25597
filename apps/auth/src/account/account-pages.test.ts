import { describe, expect, it } from "vitest";
import { escapeHtml } from "../views/html.js";
import { accountMessagePage, accountPage, editProfilePage } from "../views/index.js";

// The account views on their own: every value escaped, every form with the CSRF token.

const EVIL = `"><script>alert('x')</script><img src=x onerror=alert(1)>`;
const ESCAPED = "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;";
const csrf = `tok"en<`;

function expectSafe(page: string) {
  expect(page).not.toMatch(/<script|<img/i);
  expect(page).toContain(ESCAPED);
  const forms = page.match(/<form\b[\s\S]*?<\/form>/g) ?? [];
  expect(forms.length).toBeGreaterThan(0);
  for (const form of forms) {
    expect(form).toMatch(/^<form method="post" action="\/account[^"]*">/);
    expect(form).toContain(`<input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}">`);
  }
}

const actions = {
  csrfToken: csrf,
  editHref: "/account/edit",
  resendVerificationAction: "/account/resend-verification",
  revokeConsentAction: "/account/consents/revoke",
  logoutAction: "/account/logout",
};

describe("account views", () => {
  it("accountPage escapes user, identity and consent values; one revoke form per consent", () => {
    const page = accountPage({
      brand: EVIL,
      nonce: "n",
      user: { email: EVIL, firstName: EVIL, lastName: "", emailVerified: false },
      identities: [{ provider: EVIL, originApp: EVIL, lastLoginAt: new Date("2030-01-01T00:00:00Z") }],
      consents: [
        { clientId: EVIL, clientName: EVIL, scopes: ["openid", EVIL], grantedAt: new Date("2030-01-01T00:00:00Z") },
        { clientId: "c2", clientName: "Two", scopes: [], grantedAt: new Date("2030-01-02T00:00:00Z") },
      ],
      notice: "verification_rate_limited",
      ...actions,
    }).value;
    expectSafe(page);
    expect(page).toContain(`<input type="hidden" name="client_id" value="${ESCAPED}">`);
    expect(page.match(/action="\/account\/consents\/revoke"/g)).toHaveLength(2);
    expect(page).toContain('role="alert">Too many verification emails.');
    expect(page).toContain('nonce="n"');
  });

  it("accountPage hides the resend form for a verified address", () => {
    const page = accountPage({ brand: "B", user: { email: "e", firstName: "", lastName: "", emailVerified: true }, identities: [], consents: [], ...actions }).value;
    expect(page).not.toContain("resend-verification");
    expect(page).toContain("No name yet");
  });

  it("editProfilePage and accountMessagePage escape their values", () => {
    expectSafe(editProfilePage({ brand: "B", email: EVIL, firstName: EVIL, lastName: EVIL, error: EVIL, saved: true, csrfToken: csrf, action: "/account/edit", backHref: "/account" }).value);
    const message = accountMessagePage({ brand: "B", title: EVIL, message: EVIL, linkHref: "javascript:alert(1)", linkLabel: EVIL }).value;
    expect(message).not.toMatch(/<script|javascript:/i);
    expect(message).toContain('href="#"');
  });
});
