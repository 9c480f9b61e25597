import { writeFileSync } from "node:fs";
import { decodeJwt } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { EmployeeService, ProjectService, UserService } from "@altalune/proto";
import { API_SCOPES } from "@altalune/rpc";
import { startTestApi, type TestApi, type TransportName } from "@altalune/resources/testing";
import { createClient, createUser, startTestAuth, TEST_API_AUDIENCE, TEST_ENCRYPTION_KEY, type TestAuth, type TestClient } from "./testing/auth-harness.js";
import { Browser } from "./testing/browser.js";
import { authorizationUrl, browserLogin, codeFromMail, exchange, relyingParty } from "./testing/login-flow.js";

// API scopes end to end: an openid-client relying party and a machine client against a real auth
// server and a real Resources API (both ports) on one database.

const PORTS: readonly TransportName[] = ["connect-binary", "grpc-js"];
const ASKED = "openid email offline_access dashboard:read employee:read";

let auth: TestAuth;
let api: TestApi;
let app: TestClient;
let rp: oidc.Configuration;
let otherProject: string;
let seq = 0;

beforeAll(async () => {
  auth = await startTestAuth({ server: { loginCodeLimits: { perIp: { limit: 1_000, windowSeconds: 900 } } } });
  // Trusts the auth server's tokens; a short state TTL so a narrowed client is seen at once.
  api = await startTestApi(
    { AUTH_ISSUER: auth.issuer, API_AUDIENCE: TEST_API_AUDIENCE, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString("base64") },
    { db: auth.db, auth: { userStateTtlMs: 1 } },
  );
  app = await createClient(auth.sql, {
    name: "Third Party Reports",
    allowedScopes: ["openid", "email", "offline_access", "dashboard:read", "employee:read", "project:read", "iam:write"],
  });
  rp = await relyingParty(auth.issuer, app);
  const [row] = await auth.sql<{ public_id: string }[]>`
    insert into altalune_projects (public_id, name, timezone) values ('projscopes0002', 'Scopes other', 'UTC') returning public_id`;
  otherProject = row!.public_id;
});

afterAll(async () => {
  await api?.close();
  await auth?.close();
});

const refusal = (e: unknown) => ConnectError.from(e).code;

async function callsAs(token: string, port: TransportName) {
  const opts = { token };
  return {
    projects: api.client(ProjectService, port, opts),
    employees: api.client(EmployeeService, port, opts),
    users: api.client(UserService, port, opts),
  };
}

/** Signs `email` in through the browser, answering (and returning) the consent page if one appears. */
async function consentLogin(email: string, scope: string, browser = new Browser(auth.issuer), prompt?: "consent") {
  // offline_access is kept only with prompt=consent (OIDC Core §11).
  const start = await authorizationUrl(rp, app, { scope, ...(prompt ? { prompt } : {}) });
  let page = await browser.navigate(start.url.href);
  if (!page.leftTo && /\/login"/.test(page.body)) {
    page = await browser.submit(page, /\/login$/, { email });
    page = await browser.submit(page, /\/code$/, { code: await codeFromMail(auth.smtp, email) });
  }
  const consentHtml = !page.leftTo && /\/consent"/.test(page.body) ? page.body : undefined;
  if (consentHtml !== undefined) page = await browser.submit(page, /\/consent$/, { decision: "allow" });
  if (!page.leftTo) throw new Error(`login did not return: ${page.status}\n${page.body}`);
  return { start, callback: page.leftTo, consentHtml, browser };
}

describe("third-party client: the consented API scopes are the token's ceiling", () => {
  it("discovery lists the API scopes beside the OIDC ones, never root", async () => {
    const doc = (await (await fetch(`${auth.issuer}/.well-known/openid-configuration`)).json()) as { scopes_supported: string[] };
    expect(doc.scopes_supported).toEqual(["openid", "profile", "email", "offline_access", ...API_SCOPES]);
    expect(doc.scopes_supported).toContain("iam:write");
    expect(doc.scopes_supported).not.toContain("root");
  });

  it("a superadmin consents to two scopes: the token carries exactly those, on both ports, and keeps them on refresh", async () => {
    const { start, callback, consentHtml, browser } = await consentLogin(api.superadmin.email, ASKED, undefined, "consent");
    expect(consentHtml).toBeDefined();
    // Kept for a look in a real browser (see the report); the page is self-contained.
    writeFileSync("/tmp/consent.html", consentHtml!);
    expect(consentHtml).toContain("See the dashboard and the projects you are a member of");
    expect(consentHtml).toContain("Read employees");
    expect(consentHtml).not.toContain("data-dangerous");
    const tokens = await exchange(rp, start, callback);
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ sub: api.superadmin.publicId, principal: "user", perms: ["dashboard:read", "employee:read"] });
    expect(claims["memberships"]).toEqual({ [api.defaultProjectId]: "owner" });

    for (const port of PORTS) {
      const c = await callsAs(tokens.access_token, port);
      const projects = await c.projects.queryProjects({ query: { pagination: { page: 1, pageSize: 10 } } });
      // dashboard:read without project:read: the projects the user is a member of.
      expect(projects.data.map((p) => p.id)).toEqual([api.defaultProjectId]);
      await c.employees.queryEmployees({ projectId: api.defaultProjectId, query: { pagination: { page: 1, pageSize: 5 } } });
      const denied = await c.users.createUser({ email: `nope-${port}@scopes.test`, firstName: "N", lastName: "O" }).catch((e: unknown) => e);
      expect(refusal(denied)).toBe(Code.PermissionDenied);
    }

    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(decodeJwt(refreshed.access_token)["perms"]).toEqual(["dashboard:read", "employee:read"]);

    // Consent is remembered for this scope set; one more scope asks again.
    const same = await consentLogin(api.superadmin.email, "openid email dashboard:read employee:read", browser);
    expect(same.consentHtml).toBeUndefined();
    const more = await consentLogin(api.superadmin.email, "openid email dashboard:read employee:read iam:write", browser);
    expect(more.consentHtml).toContain('data-scope="iam:write" data-dangerous="true"');
    expect(more.consentHtml).toContain("Change users and their roles and permissions");
    writeFileSync("/tmp/consent-sensitive.html", more.consentHtml!);
  });

  it("a user without employee:read gets only dashboard:read, and loses a permission at the next refresh", async () => {
    const user = await createUser(auth.sql, { email: `plain-${++seq}@scopes.test`, permissions: ["dashboard:read", "user:write"] });
    const { start, callback } = await consentLogin(user.email, `${ASKED} project:read`, undefined, "consent");
    const tokens = await exchange(rp, start, callback);
    // user:write is held but not consented; employee:read and project:read are consented but not held.
    expect(decodeJwt(tokens.access_token)["perms"]).toEqual(["dashboard:read"]);
    await auth.sql`delete from altalune_users_permissions where user_id = ${user.id}`;
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(decodeJwt(refreshed.access_token)["perms"]).toEqual([]);
  });

  it("asking for an API scope the client is not allowed is invalid_scope (RFC 6749)", async () => {
    const start = await authorizationUrl(rp, app, { scope: "openid user:write" });
    const page = await new Browser(auth.issuer).navigate(start.url.href);
    expect(page.leftTo?.searchParams.get("error")).toBe("invalid_scope");
    expect(page.leftTo?.searchParams.get("scope")).toBe("user:write");
  });
});

describe("machine-to-machine clients (client_credentials)", () => {
  async function machineClient(scopes: string[], projects: string[]) {
    const client = await createClient(auth.sql, { name: "Payroll sync", allowedScopes: scopes });
    await auth.sql`
      insert into altalune_oauth_client_projects (client_id, project_id)
      select c.id, p.id from altalune_oauth_clients c, altalune_projects p
      where c.client_id = ${client.clientId} and p.public_id = any(${projects}::text[])`;
    return client;
  }

  async function clientCredentials(client: TestClient, scope: string) {
    const res = await fetch(`${auth.issuer}/oauth/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString("base64")}`,
      },
      body: new URLSearchParams({ grant_type: "client_credentials", scope }).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it("gets a token whose principal is the client: its scope, its project, nothing else, on both ports", async () => {
    const client = await machineClient(["employee:read"], [api.defaultProjectId]);
    const issued = await clientCredentials(client, "employee:read");
    expect(issued.status).toBe(200);
    const token = String(issued.body["access_token"]);
    expect(decodeJwt(token)).toMatchObject({
      sub: client.clientId,
      client_id: client.clientId,
      principal: "client",
      perms: ["employee:read"],
      projects: [api.defaultProjectId],
      aud: TEST_API_AUDIENCE,
    });
    for (const port of PORTS) {
      const c = await callsAs(token, port);
      await c.employees.queryEmployees({ projectId: api.defaultProjectId, query: { pagination: { page: 1, pageSize: 5 } } });
      const elsewhere = await c.employees.queryEmployees({ projectId: otherProject, query: { pagination: { page: 1, pageSize: 5 } } }).catch((e: unknown) => e);
      expect(refusal(elsewhere)).toBe(Code.PermissionDenied);
      const createUser = await c.users.createUser({ email: `m2m-${port}@scopes.test`, firstName: "M", lastName: "M" }).catch((e: unknown) => e);
      expect(refusal(createUser)).toBe(Code.PermissionDenied);
    }
    // A scope the client was not granted is invalid_scope.
    expect(await clientCredentials(client, "user:write")).toMatchObject({ status: 400, body: { error: "invalid_scope" } });
  });

  it("stripped of the scope: its tokens stop working, the next issuance lacks it; deleted: refused", async () => {
    const client = await machineClient(["employee:read"], [api.defaultProjectId]);
    const token = String((await clientCredentials(client, "employee:read")).body["access_token"]);
    const query = (t: string, port: TransportName) =>
      api.client(EmployeeService, port, { token: t }).queryEmployees({ projectId: api.defaultProjectId, query: { pagination: { page: 1, pageSize: 5 } } });
    await query(token, "grpc-js");

    await auth.sql`update altalune_oauth_clients set allowed_scopes = '{openid}' where client_id = ${client.clientId}`;
    await new Promise((r) => setTimeout(r, 5));
    for (const port of PORTS) {
      const e = await query(token, port).catch((err: unknown) => err);
      expect(refusal(e)).toBe(Code.Unauthenticated);
      expect(ConnectError.from(e).rawMessage).toContain("no longer holds");
    }
    // At once (the claims are read at issuance) or, once the provider's client cache has caught
    // up, invalid_scope: never employee:read again.
    const next = await clientCredentials(client, "employee:read");
    if (next.status === 200) expect(decodeJwt(String(next.body["access_token"]))["perms"]).toEqual([]);
    else expect(next.body["error"]).toBe("invalid_scope");

    const other = await machineClient(["employee:read"], [api.defaultProjectId]);
    const otherToken = String((await clientCredentials(other, "employee:read")).body["access_token"]);
    await auth.sql`delete from altalune_oauth_clients where client_id = ${other.clientId}`;
    await new Promise((r) => setTimeout(r, 5));
    expect(refusal(await query(otherToken, "connect-binary").catch((err: unknown) => err))).toBe(Code.Unauthenticated);
    expect(await clientCredentials(other, "employee:read")).toMatchObject({ status: 401, body: { error: "invalid_client" } });
  });
});
