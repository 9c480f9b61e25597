import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { EmployeeService, EmployeeStatus, ProjectService } from "@altalune/proto";
import { codeFromMail } from "@altalune/auth/testing";
import { launchChromium, screenshotter } from "./testing/chromium.js";
import { startWebSystem, type WebSystem } from "./testing/system.js";

// Our own web client in Chromium against the real system: the auth server's pages, the BFF, the
// Resources API, all on localhost like `pnpm start`. One browser and one system for the file;
// the tests are one person's session, in order.

const ACCESS_TOKEN_TTL = 5;
const EMAIL = "admin@altalune.local";

let system: WebSystem;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let projectId: string;
const shot = screenshotter("web-client");

/** Requests to the BFF's /oauth/refresh, seen from the browser. */
const refreshes: Request[] = [];

beforeAll(async () => {
  [system, browser] = await Promise.all([startWebSystem({ env: { ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL) } }), launchChromium()]);
  context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on("request", (r) => {
    if (r.url() === `${system.auth.issuer}/oauth/refresh`) refreshes.push(r);
  });
  // A project of its own with 12 employees: two pages of 10, known names to search and sort.
  const token = await system.adminToken();
  const projects = system.api.client(ProjectService, "connect-json", { token });
  const created = await projects.createProject({ name: "Browser Journey", description: "web client tests", timezone: "UTC", environment: "sandbox" });
  projectId = created.project!.id;
  const employees = system.api.client(EmployeeService, "connect-json", { token });
  const people = ["Ada Lovelace", "Alan Turing", "Barbara Liskov", "Donald Knuth", "Edsger Dijkstra", "Frances Allen", "Grace Hopper", "John Backus", "Ken Thompson", "Leslie Lamport", "Margaret Hamilton", "Niklaus Wirth"];
  for (const [i, name] of people.entries()) {
    await employees.createEmployee({
      projectId,
      name,
      email: `${name.split(" ")[0]!.toLowerCase()}@example.test`,
      role: i % 2 === 0 ? "Engineer" : "Researcher",
      department: i % 3 === 0 ? "Compilers" : "Systems",
      status: i === 3 || i === 7 ? EmployeeStatus.INACTIVE : EmployeeStatus.ACTIVE,
    });
  }
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await system?.close();
});

const rowNames = async () => page.locator("tbody tr[data-employee] td:first-child").allInnerTexts();

/** Until the access-token cookie has expired in the browser (its Max-Age is the token lifetime). */
async function accessCookieExpired(): Promise<void> {
  const deadline = Date.now() + (ACCESS_TOKEN_TTL + 5) * 1000;
  while ((await context.cookies(system.apiUrl)).some((c) => c.name === "access_token")) {
    if (Date.now() > deadline) throw new Error("the access-token cookie did not expire");
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("web client in Chromium", () => {
  it("signs in through the auth server's pages with the code from the mail; cookies are httpOnly and SameSite", async () => {
    await page.goto(`${system.origin}/projects`);
    await page.waitForURL(/\/signin\?/);
    await shot(page, "signin");
    await page.getByRole("button", { name: "Sign in" }).click();

    await page.waitForURL(`${system.auth.issuer}/**`);
    await page.locator("#email").fill(EMAIL);
    await shot(page, "auth-email");
    await page.getByRole("button", { name: "Email me a sign-in code" }).click();
    await page.locator("#code").waitFor();
    const code = await codeFromMail(system.auth.smtp, EMAIL);
    await page.locator("#code").fill(code);
    await shot(page, "auth-code");
    await page.getByRole("button", { name: "Sign in" }).click();

    // Back through /auth/callback (the BFF redeems the code) to where the person started.
    await page.waitForURL(`${system.origin}/projects`);
    await expect.poll(() => page.locator("[data-user-email]").innerText()).toBe(EMAIL);
    await page.locator(`tr[data-project="${projectId}"]`).waitFor();
    await shot(page, "projects");

    const cookies = await context.cookies(system.origin);
    const access = cookies.find((c) => c.name === "access_token");
    expect(access).toMatchObject({ domain: "localhost", path: "/", httpOnly: true, sameSite: "Lax" });
    const refresh = (await context.cookies(`${system.auth.issuer}/oauth/refresh`)).find((c) => c.name === "refresh_token");
    expect(refresh).toMatchObject({ path: "/oauth", httpOnly: true, sameSite: "Lax" });
    // Invisible to the page's scripts.
    expect(await page.evaluate("document.cookie")).toBe("");
  });

  it("searches and pages the projects list", async () => {
    await page.getByRole("searchbox", { name: "Search projects" }).fill("journey");
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => page.locator("tbody tr[data-project]").count()).toBe(1);
    await expect(page.locator("tbody tr[data-project]").innerText()).resolves.toContain("Browser Journey");
    await shot(page, "projects-search");
  });

  it("employee table: sort, page, filter, search; create with a validation error next to the field; edit; delete", async () => {
    await page.locator(`tr[data-project="${projectId}"]`).getByRole("link", { name: "Employees" }).click();
    await page.waitForURL(`${system.origin}/projects/${projectId}/employees`);
    await expect.poll(rowNames).toHaveLength(10);
    expect((await rowNames())[0]).toBe("Ada Lovelace");
    await expect(page.locator(".pager-status").innerText()).resolves.toContain("Page 1 of 2 · 12 total");
    await shot(page, "employees");

    await page.locator('button[data-sort="name"]').click(); // name ascending → descending
    await expect.poll(async () => (await rowNames())[0]).toBe("Niklaus Wirth");
    await page.getByRole("button", { name: "Next" }).click();
    await expect.poll(rowNames).toEqual(["Alan Turing", "Ada Lovelace"]);
    await shot(page, "employees-sorted-page2");

    await page.getByRole("combobox", { name: "Status filter" }).selectOption("inactive");
    await expect.poll(rowNames).toEqual(["John Backus", "Donald Knuth"]);
    await page.getByRole("combobox", { name: "Status filter" }).selectOption("");
    await page.getByRole("searchbox", { name: "Search employees" }).fill("compilers");
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(rowNames).toEqual(["Leslie Lamport", "Grace Hopper", "Donald Knuth", "Ada Lovelace"]);
    await shot(page, "employees-filtered");

    // Create: the server's buf.validate violations appear next to their fields.
    await page.getByRole("button", { name: "New employee" }).click();
    const form = page.getByRole("form", { name: "New employee" });
    await form.getByLabel("Name").fill("R2-D2");
    await form.getByLabel("Email").fill("not-an-email");
    await form.getByLabel("Role").fill("Droid");
    await form.getByLabel("Department").fill("Compilers");
    await form.getByRole("button", { name: "Create" }).click();
    await expect.poll(() => form.locator('[data-field-error="name"]').innerText()).toBe("Contains characters that are not allowed.");
    await expect(form.locator('[data-field-error="email"]').innerText()).resolves.toBe("Enter a valid email address.");
    expect(await form.locator('[data-field-error="role"]').count()).toBe(0);
    await expect(form.getByRole("alert").innerText()).resolves.toBe("Some fields are not valid.");
    await shot(page, "employee-validation");

    // A conflict the server names by field: the email is taken in this project.
    await form.getByLabel("Name").fill("Artoo Detoo");
    await form.getByLabel("Email").fill("ada@example.test");
    await form.getByRole("button", { name: "Create" }).click();
    await expect.poll(() => form.locator('[data-field-error="email"]').innerText()).toBe("An employee with this email already exists in this project.");
    expect(await form.locator('[data-field-error="name"]').count()).toBe(0);

    await form.getByLabel("Email").fill("artoo@example.test");
    await form.getByRole("button", { name: "Create" }).click();
    await expect.poll(() => page.getByRole("status").innerText()).toBe("Employee Artoo Detoo created.");
    await expect.poll(rowNames).toContain("Artoo Detoo");
    await shot(page, "employee-created");

    // Edit.
    await page.locator('tr[data-employee="artoo@example.test"]').getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("form", { name: "Edit employee" });
    await edit.getByLabel("Role").fill("Astromech");
    await edit.getByLabel("Status").selectOption({ label: "Inactive" });
    await edit.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.locator('tr[data-employee="artoo@example.test"]').innerText()).toMatch(/Astromech\s+Compilers\s+Inactive/);
    await shot(page, "employee-edited");

    // Delete (asks once more on the row).
    const row = page.locator('tr[data-employee="artoo@example.test"]');
    await row.getByRole("button", { name: "Delete" }).click();
    await row.getByRole("button", { name: "Confirm delete" }).click();
    await expect.poll(() => page.getByRole("status").innerText()).toBe("Employee Artoo Detoo deleted.");
    await expect.poll(rowNames).not.toContain("Artoo Detoo");

    // The API saw the same thing the table shows.
    const stored = await system.api.client(EmployeeService, "connect-json", { token: await system.adminToken() }).queryEmployees({ projectId, query: { pagination: { page: 1, pageSize: 50 }, keyword: "artoo" } });
    expect(stored.data).toHaveLength(0);
  });

  it("an access token that expires mid-session is renewed by one refresh, and the refused calls are retried", async () => {
    await page.getByRole("link", { name: "Projects" }).click();
    await page.locator(`tr[data-project="${projectId}"]`).waitFor();
    await accessCookieExpired();
    const refreshesBefore = refreshes.length;
    const refused: string[] = [];
    const onResponse = (r: import("playwright-core").Response) => {
      if (r.url().startsWith(system.apiUrl) && r.status() === 401) refused.push(r.url());
    };
    page.on("response", onResponse);
    // The employees page sends two calls at once (the table and the project's name): both are
    // refused without the cookie, one refresh serves both, both are retried.
    await page.locator(`tr[data-project="${projectId}"]`).getByRole("link", { name: "Employees" }).click();
    await expect.poll(rowNames).toHaveLength(10);
    await expect.poll(() => page.locator("h1").innerText()).toBe("Employees · Browser Journey");
    page.off("response", onResponse);
    expect(refused.map((u) => u.split("/").pop())).toEqual(expect.arrayContaining(["QueryEmployees", "GetProject"]));
    expect(refreshes.length - refreshesBefore).toBe(1);
    expect(page.url()).toBe(`${system.origin}/projects/${projectId}/employees`);
    expect((await context.cookies(system.apiUrl)).some((c) => c.name === "access_token")).toBe(true);
    await shot(page, "after-refresh");
  });

  it("API keys: the key is shown once at creation; deactivate; delete", async () => {
    await page.goto(`${system.origin}/projects/${projectId}/api-keys`);
    const form = page.getByRole("form", { name: "New API key" });
    await form.getByLabel("Name").fill("deploy/ci");
    await form.getByRole("button", { name: "Create key" }).click();
    await expect.poll(() => form.locator('[data-field-error="name"]').innerText()).toBe("Contains characters that are not allowed.");
    await form.getByLabel("Name").fill("CI deploy");
    await form.getByRole("button", { name: "Create key" }).click();
    const shown = page.locator("[data-created-key] code");
    await expect.poll(() => shown.innerText()).toMatch(/^sk-\S{20,}$/);
    const key = await shown.innerText();
    await shot(page, "api-key-created");
    const row = page.locator('tr[data-api-key="CI deploy"]');
    await expect.poll(() => row.innerText()).toMatch(/active/);
    // The key works against the API until it is deactivated.
    const call = () =>
      fetch(`${system.apiUrl}/altalune.v1.EmployeeService/QueryEmployees`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": key },
        body: JSON.stringify({ projectId, query: { pagination: { page: 1, pageSize: 1 } } }),
      });
    expect((await call()).status).toBe(200);
    await row.getByRole("button", { name: "Deactivate" }).click();
    await row.getByRole("button", { name: "Activate" }).waitFor();
    expect((await call()).status).toBe(401);
    await page.getByRole("button", { name: "Done" }).click();
    expect(await page.locator("[data-created-key]").count()).toBe(0);
    await shot(page, "api-key-deactivated");
    await row.getByRole("button", { name: "Delete" }).click();
    await expect.poll(() => row.count()).toBe(0);
  });

  it("shows the current user", async () => {
    await page.getByRole("link", { name: "Account" }).click();
    await expect.poll(() => page.locator("[data-me-email]").innerText()).toBe(EMAIL);
    await expect(page.locator(".facts").innerText()).resolves.toContain("root");
    await shot(page, "account");
  });

  it("a page on a foreign origin of the same site cannot use the cookies with the API or the BFF", async () => {
    // Same site as the app (localhost), other port: the browser attaches the Lax cookies to its
    // requests, so only the servers' checks (Origin, content type, CORS) stand in the way.
    const evil = await startPage("<!doctype html><title>elsewhere</title><p>another app on localhost</p>");
    const attacker = await context.newPage();
    try {
      // A fresh access cookie, so the attack carries one.
      await page.evaluate(async (bff: string) => {
        await fetch(`${bff}/oauth/refresh`, { method: "POST", credentials: "include", headers: { "content-type": "application/json" }, body: "{}" });
      }, system.auth.issuer);
      const before = await context.cookies([system.origin, `${system.auth.issuer}/oauth/refresh`]);
      // What the browser really sent: the DevTools protocol reports each request's attached cookies.
      const seen = await recordRequests(attacker);
      await attacker.goto(evil.url);
      const results = await attacker.evaluate(
        async ({ api, bff }: { api: string; bff: string }) => {
          const out: Record<string, string> = {};
          const attempt = async (name: string, url: string, init: RequestInit) => {
            try {
              const r = await fetch(url, { credentials: "include", ...init });
              out[name] = r.type === "opaque" ? "opaque" : `read ${r.status}: ${await r.text()}`;
            } catch (e) {
              out[name] = `failed: ${String(e)}`;
            }
          };
          const query = JSON.stringify({ query: { pagination: { page: 1, pageSize: 10 } } });
          await attempt("api read", `${api}/altalune.v1.ProjectService/QueryProjects`, { method: "POST", headers: { "content-type": "application/json" }, body: query });
          await attempt("api forged write", `${api}/altalune.v1.ProjectService/CreateProject`, {
            method: "POST",
            mode: "no-cors",
            headers: { "content-type": "text/plain" },
            body: JSON.stringify({ name: "Forged Project", timezone: "UTC", environment: "sandbox" }),
          });
          await attempt("me", `${bff}/oauth/me`, {});
          await attempt("refresh", `${bff}/oauth/refresh`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
          await attempt("forged refresh", `${bff}/oauth/refresh`, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: "{}" });
          await attempt("forged logout", `${bff}/oauth/logout`, { method: "POST", mode: "no-cors" });
          return out;
        },
        { api: system.apiUrl, bff: system.auth.issuer },
      );
      await shot(attacker, "foreign-origin");
      // Nothing readable: CORS refuses this origin (no preflight passes, no answer is shared).
      expect(results["api read"]).toMatch(/^failed: TypeError/);
      expect(results["me"]).toMatch(/^failed: TypeError/);
      expect(results["refresh"]).toMatch(/^failed: TypeError/);
      // The requests a page may send without a preflight arrive with the cookies, and are refused.
      const forged = await seen("POST", `${system.apiUrl}/altalune.v1.ProjectService/CreateProject`);
      expect(forged.cookies).toContain("access_token");
      // (The API refuses a form-like content type outright, 415, before the cookie rule's 401.)
      expect([401, 415]).toContain(forged.status);
      for (const path of ["refresh", "logout"]) {
        const forgedBff = await seen("POST", `${system.auth.issuer}/oauth/${path}`);
        expect(forgedBff.cookies).toContain("refresh_token");
        expect(forgedBff.status).toBe(403); // forbidden_origin
      }
      // Nothing changed: no project, the session's cookies are the same (not rotated, not cleared).
      const projects = await system.api
        .client(ProjectService, "connect-json", { token: await system.adminToken() })
        .queryProjects({ query: { pagination: { page: 1, pageSize: 10 }, keyword: "Forged" } });
      expect(projects.data).toHaveLength(0);
      const after = await context.cookies([system.origin, `${system.auth.issuer}/oauth/refresh`]);
      const refreshOf = (cs: typeof after) => cs.find((c) => c.name === "refresh_token")?.value;
      expect(refreshOf(after)).toBeDefined();
      expect(refreshOf(after)).toBe(refreshOf(before));
    } finally {
      await attacker.close();
      await evil.close();
    }
  });

  it("a refused refresh sends the person to sign in, and back to where they were", async () => {
    await page.goto(`${system.origin}/projects/${projectId}/employees`);
    await expect.poll(rowNames).toHaveLength(10);
    // The session ends behind the page's back: its refresh token is gone.
    await context.clearCookies({ name: "refresh_token" });
    await accessCookieExpired();
    await page.getByRole("button", { name: "Next" }).click();
    await page.waitForURL(/\/signin\?expired=1/);
    await expect(page.locator(".notice").innerText()).resolves.toBe("Your session has ended. Please sign in again.");
    await shot(page, "session-ended");
    // The auth server still knows the browser (its own session cookie): no email, straight back.
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${system.origin}/projects/${projectId}/employees`);
    await expect.poll(rowNames).toHaveLength(10);
  });

  it("signs out: cookies cleared, refresh token revoked, the next sign-in asks for the email again", async () => {
    const refreshToken = (await context.cookies(`${system.auth.issuer}/oauth/refresh`)).find((c) => c.name === "refresh_token")?.value;
    expect(refreshToken).toBeDefined();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${system.origin}/signin`);
    await shot(page, "signed-out");
    const left = (await context.cookies([system.origin, `${system.auth.issuer}/oauth/refresh`])).map((c) => c.name);
    expect(left).not.toContain("access_token");
    expect(left).not.toContain("refresh_token");
    const replay = await fetch(`${system.auth.issuer}/oauth/refresh`, {
      method: "POST",
      headers: { origin: system.origin, "content-type": "application/json", cookie: `refresh_token=${refreshToken}` },
      body: "{}",
    });
    expect(replay.status).toBe(401);
    await page.goto(`${system.origin}/projects`);
    await page.waitForURL(/\/signin\?/);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#email").waitFor();
    await shot(page, "signin-again");
  });
});

interface SeenRequest {
  method: string;
  url: string;
  /** Names of the cookies the browser attached (none blocked). */
  cookies: string[];
  status?: number;
}

/**
 * Records the page's requests through the DevTools protocol, which reports the cookies Chromium
 * attached to each; the returned function waits for the answered request with that method and URL.
 */
async function recordRequests(target: Page): Promise<(method: string, url: string) => Promise<SeenRequest>> {
  const cdp = await target.context().newCDPSession(target);
  const requests = new Map<string, SeenRequest>();
  const entry = (id: string) => {
    let found = requests.get(id);
    if (found === undefined) requests.set(id, (found = { method: "", url: "", cookies: [] }));
    return found;
  };
  cdp.on("Network.requestWillBeSent", (e) => Object.assign(entry(e.requestId), { method: e.request.method, url: e.request.url }));
  cdp.on("Network.requestWillBeSentExtraInfo", (e) => {
    entry(e.requestId).cookies = e.associatedCookies.filter((c) => c.blockedReasons.length === 0).map((c) => c.cookie.name);
  });
  cdp.on("Network.responseReceived", (e) => {
    entry(e.requestId).status = e.response.status;
  });
  await cdp.send("Network.enable");
  return async (method, url) => {
    let match: SeenRequest | undefined;
    await expect
      .poll(() => (match = [...requests.values()].find((r) => r.method === method && r.url === url && r.status !== undefined && r.cookies.length > 0)), {
        message: `${method} ${url} seen with its cookies`,
      })
      .toBeDefined();
    return match!;
  };
}

/** A page on another localhost port: same site as the app, not an allowed origin. */
async function startPage(html: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
