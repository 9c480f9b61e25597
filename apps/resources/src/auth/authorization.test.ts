import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { ApiKeyService, ConfigService, EmployeeService, EmployeeStatus, IAMMapperService, ProjectService, UserService } from "@altalune/proto";
import { callError, detailOf } from "../testing/errors.js";
import { startTestApi, TRANSPORTS, type TestApi } from "../testing/api-harness.js";
import { TestIssuer } from "../testing/test-issuer.js";

const PAGE = { pagination: { page: 1, pageSize: 10 } };
const ALLOWED_ORIGIN = "https://dashboard.example.org";
const COOKIE_ENV = { ALLOWED_ORIGINS: ALLOWED_ORIGIN };

let t: TestApi;
let member: string;

beforeAll(async () => {
  t = await startTestApi(COOKIE_ENV, { auth: { tokens: { cooldownMs: 100 }, userStateTtlMs: 200 } });
  const created = await t.client(UserService, "connect-json").createUser({ email: "member@auth.test", firstName: "M", lastName: "Ember" });
  member = created.user!.id;
  await t.client(IAMMapperService, "connect-json").assignProjectMembers({
    projectId: t.defaultProjectId,
    members: [{ userId: member, role: "member" }],
  });
});

afterAll(async () => {
  await t?.close();
});

const memberToken = (extra: Parameters<TestApi["token"]>[0] extends infer S ? Partial<S> : never = {}) =>
  t.token({ sub: member, perms: ["employee:read", "dashboard:read"], memberships: { [t.defaultProjectId]: "member" }, ...extra });

describe("access tokens", () => {
  it.each(TRANSPORTS)("a member's token works over %s, with RS256 and ES256 keys", async (transport) => {
    for (const key of ["rs-1", "es-1"]) {
      const client = t.client(EmployeeService, transport, { token: await memberToken({ key }) });
      const res = await client.queryEmployees({ projectId: t.defaultProjectId, query: PAGE });
      expect(res.meta?.rowCount).toBe(0);
    }
  });

  it.each([
    ["expired", { expiresIn: -120 }, "expired"],
    ["another issuer", { issuer: "https://evil.example" }, "issuer"],
    ["another audience", { audience: "urn:other" }, "audience"],
    ["an ID token (typ JWT)", { typ: "JWT" }, "token_type"],
    ["an unpublished key", { key: "unpublished" }, "unknown_key"],
  ] as const)("refuses a token from %s with Unauthenticated and a reason", async (_label, spec, reason) => {
    const client = t.client(EmployeeService, "connect-json", { token: await memberToken(spec) });
    const e = await callError(client.queryEmployees({ projectId: t.defaultProjectId, query: PAGE }));
    expect(e.code).toBe(Code.Unauthenticated);
    expect(detailOf(e)).toEqual({ code: "60010", meta: { reason } });
  });

  it("refuses a token without kid while several keys of its algorithm are published (Unauthenticated, not Unavailable)", async () => {
    const issuer = await TestIssuer.start();
    await issuer.rotate("RS256"); // two RS256 keys, as during a real rotation
    const api = await startTestApi({}, { issuer, db: t.db });
    try {
      const token = await issuer.token({ sub: api.superadmin.publicId, perms: ["root"], omitKid: true });
      const e = await callError(api.client(UserService, "connect-json", { token }).queryUsers({}));
      expect(e.code).toBe(Code.Unauthenticated);
      expect(detailOf(e)?.meta).toEqual({ reason: "malformed" });
    } finally {
      await api.close();
      await issuer.close();
    }
  });

  it("refuses garbage, a tampered payload and an unknown scheme", async () => {
    const good = await memberToken();
    const [h, p, s] = good.split(".");
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, "base64url").toString()), perms: ["root"] })).toString("base64url");
    const cases: Array<[Record<string, string>, string]> = [
      [{ authorization: "Bearer not-a-jwt" }, "malformed"],
      [{ authorization: `Bearer ${h}.${forged}.${s}` }, "signature"],
      [{ authorization: `Basic ${Buffer.from("a:b").toString("base64")}` }, "unsupported_scheme"],
    ];
    for (const [headers, reason] of cases) {
      const e = await callError(t.client(EmployeeService, "grpc-js", { token: null, headers }).queryEmployees({ projectId: t.defaultProjectId, query: PAGE }));
      expect(e.code).toBe(Code.Unauthenticated);
      expect(detailOf(e)?.meta).toEqual({ reason });
    }
  });

  it("says which permission is missing, and which project is not the caller's", async () => {
    const noPerm = await t.token({ sub: member, perms: [], memberships: { [t.defaultProjectId]: "member" } });
    const e1 = await callError(t.client(EmployeeService, "connect-json", { token: noPerm }).queryEmployees({ projectId: t.defaultProjectId, query: PAGE }));
    expect(e1.code).toBe(Code.PermissionDenied);
    expect(e1.rawMessage).toBe("permission denied: requires employee:read");
    const other = await t.client(ProjectService, "connect-json").createProject({ name: "Not mine", timezone: "UTC", environment: "sandbox" });
    const e2 = await callError(t.client(EmployeeService, "connect-json", { token: await memberToken() }).queryEmployees({ projectId: other.project!.id, query: PAGE }));
    expect(e2.code).toBe(Code.PermissionDenied);
    expect(detailOf(e2)).toEqual({ code: "60011", meta: { reason: "project", project_id: other.project!.id } });
  });

  it("stops accepting a deactivated user's token within the user-state TTL", async () => {
    const users = t.client(UserService, "connect-json");
    const created = await users.createUser({ email: "leaver@auth.test", firstName: "L", lastName: "Eaver" });
    const id = created.user!.id;
    const token = await t.token({ sub: id, perms: [], memberships: {} });
    const own = t.client(IAMMapperService, "grpc-js", { token });
    await own.getUserProjects({ userId: id });
    await users.deactivateUser({ id });
    await new Promise((r) => setTimeout(r, 250));
    const e = await callError(own.getUserProjects({ userId: id }));
    expect(e.code).toBe(Code.Unauthenticated);
    expect(detailOf(e)?.meta).toEqual({ reason: "user_inactive" });
    await users.deleteUser({ id });
    const gone = await callError(own.getUserProjects({ userId: id }));
    expect(gone.code).toBe(Code.Unauthenticated);
  });
});

describe("deactivation on the replica that served it", () => {
  it("takes effect at once, without waiting for the user-state TTL (default 30 s)", async () => {
    const api = await startTestApi({}, { issuer: t.issuer, db: t.db });
    try {
      const users = api.client(UserService, "connect-json");
      const created = await users.createUser({ email: "quick-leaver@auth.test", firstName: "Q", lastName: "Leaver" });
      const id = created.user!.id;
      const own = api.client(IAMMapperService, "grpc-js", { token: await api.token({ sub: id }) });
      await own.getUserProjects({ userId: id }); // remembered as active
      await users.deactivateUser({ id });
      expect((await callError(own.getUserProjects({ userId: id }))).code).toBe(Code.Unauthenticated);
      await users.activateUser({ id });
      expect((await own.getUserProjects({ userId: id })).projects).toBeDefined();
    } finally {
      await api.close();
    }
  });
});

describe("rules beyond a permission", () => {
  it("GetUserProjects: one's own memberships without iam:read, anyone else's only with it", async () => {
    const token = await t.token({ sub: member, perms: [], memberships: {} });
    const client = t.client(IAMMapperService, "connect-json", { token });
    const own = await client.getUserProjects({ userId: member });
    expect(own.projects.map((p) => p.projectId)).toEqual([t.defaultProjectId]);
    const e = await callError(client.getUserProjects({ userId: t.superadmin.publicId }));
    expect(e.code).toBe(Code.PermissionDenied);
    const auditor = t.client(IAMMapperService, "connect-json", { token: await t.token({ sub: member, perms: ["iam:read"] }) });
    expect((await auditor.getUserProjects({ userId: t.superadmin.publicId })).projects.length).toBeGreaterThan(0);
  });

  it("QueryProjects: dashboard:read lists member projects only; project:read lists all", async () => {
    const all = await t.client(ProjectService, "connect-json").queryProjects({});
    expect(all.meta!.rowCount).toBeGreaterThan(1);
    const dashboardOnly = t.client(ProjectService, "connect-json", {
      token: await t.token({ sub: member, perms: ["dashboard:read"], memberships: { [t.defaultProjectId]: "member" } }),
    });
    const mine = await dashboardOnly.queryProjects({});
    expect(mine.data.map((p) => p.id)).toEqual([t.defaultProjectId]);
    expect(mine.meta!.rowCount).toBe(1);
    const reader = t.client(ProjectService, "connect-json", { token: await t.token({ sub: member, perms: ["project:read"] }) });
    expect((await reader.queryProjects({})).meta!.rowCount).toBe(all.meta!.rowCount);
  });

  it("public RPCs ignore credentials entirely (even broken ones)", async () => {
    const client = t.client(ConfigService, "connect-json", { token: "garbage" });
    expect((await client.getPublicConfig({})).branding?.dashboardName).toBeTruthy();
  });
});

describe("API keys", () => {
  it("work as Bearer and as x-api-key for their project's employees only", async () => {
    const created = await t.client(ApiKeyService, "connect-json").createApiKey({
      projectId: t.defaultProjectId,
      name: "auth test key",
      expiration: { seconds: BigInt(Math.floor(Date.now() / 1000) + 86400), nanos: 0 },
    });
    const viaBearer = t.client(EmployeeService, "grpc-js", { token: created.keyValue });
    const viaHeader = t.client(EmployeeService, "connect-json", { token: null, headers: { "x-api-key": created.keyValue } });
    for (const client of [viaBearer, viaHeader]) {
      const emp = await client.createEmployee({ projectId: t.defaultProjectId, name: "Key Made", email: `k${Math.random()}@x.test`, role: "Engineer", department: "R&D", status: EmployeeStatus.ACTIVE });
      expect(emp.employee?.name).toBe("Key Made");
    }
    const e = await callError(t.client(UserService, "connect-json", { token: created.keyValue }).queryUsers({}));
    expect(e.code).toBe(Code.PermissionDenied);
    expect(detailOf(e)?.meta).toEqual({ reason: "api_key_scope" });
  });
});

describe("the access_token cookie (web clients)", () => {
  async function post(headers: Record<string, string>, body = "{}") {
    return fetch(`${t.baseUrl}/altalune.v1.EmployeeService/QueryEmployees`, {
      method: "POST",
      headers: { "connect-protocol-version": "1", ...headers },
      body: body === "{}" ? JSON.stringify({ projectId: t.defaultProjectId, query: { pagination: { page: 1, pageSize: 10 } } }) : body,
    });
  }

  it("is accepted from an allowed origin (or without Origin) with a Connect content type", async () => {
    const cookie = `theme=dark; access_token=${await memberToken()}`;
    for (const origin of [{ origin: ALLOWED_ORIGIN }, {}] as Record<string, string>[]) {
      const res = await post({ cookie, "content-type": "application/json", ...origin });
      expect(res.status).toBe(200);
    }
    // Only this mode's name: the production name (`__Secure-`) is not read outside production,
    // and (tested by config) the plain name is not read in production.
    const other = await post({ cookie: `__Secure-access_token=${await memberToken()}`, "content-type": "application/json" });
    expect(other.status).toBe(401);
  });

  it("is refused from a foreign origin, and for form-like requests", async () => {
    const cookie = `access_token=${await memberToken()}`;
    const foreign = await post({ cookie, "content-type": "application/json", origin: "https://evil.example" });
    expect(foreign.status).toBe(401);
    expect(await foreign.json()).toMatchObject({ code: "unauthenticated", message: "cookie credentials are not accepted from origin https://evil.example" });
    // A cross-site form can only send these types; Connect refuses them before any handler runs.
    const form = await fetch(`${t.baseUrl}/altalune.v1.EmployeeService/QueryEmployees`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
      body: "projectId=x",
    });
    expect(form.status).not.toBe(200);
  });

  it("answers CORS preflights for allowed origins only, with credentials", async () => {
    const preflight = (origin: string) =>
      fetch(`${t.baseUrl}/altalune.v1.EmployeeService/QueryEmployees`, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type,connect-protocol-version" },
      });
    const ok = await preflight(ALLOWED_ORIGIN);
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
    expect(ok.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("connect-protocol-version");
    const refused = await preflight("https://evil.example");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("the auth server's keys (JWKS)", () => {
  it("discovers the JWKS once, refetches on an unknown kid at most once per cooldown, keeps old keys valid after rotation", async () => {
    const issuer = await TestIssuer.start();
    const api = await startTestApi({}, { issuer, db: t.db, auth: { tokens: { cooldownMs: 300 } } });
    try {
      const sub = api.superadmin.publicId;
      const call = (token: string) => api.client(UserService, "connect-json", { token }).queryUsers({});
      const before = await issuer.token({ sub, perms: ["root"] });
      await call(before);
      expect(issuer.hitsOf("/.well-known/openid-configuration")).toBe(1);
      expect(issuer.hitsOf("/.well-known/jwks.json")).toBe(1);

      const newKid = await issuer.rotate("ES256");
      await new Promise((r) => setTimeout(r, 350));
      const after = await issuer.token({ sub, perms: ["root"] });
      await call(after); // unknown kid → one refetch
      expect(issuer.hitsOf("/.well-known/jwks.json")).toBe(2);
      expect(newKid).toBe(issuer.currentKid);
      const oldKeyFresh = await issuer.token({ sub, perms: ["root"], key: "rs-1" });
      await call(oldKeyFresh); // old key still published: verifies without a fetch
      expect(issuer.hitsOf("/.well-known/jwks.json")).toBe(2);

      // Unknown kids in a burst cost at most one fetch per cooldown.
      for (let i = 0; i < 5; i++) {
        const e = await callError(call(await issuer.token({ sub, perms: ["root"], key: "unpublished" })));
        expect(e.code).toBe(Code.Unauthenticated);
      }
      expect(issuer.hitsOf("/.well-known/jwks.json")).toBeLessThanOrEqual(3);
      expect(issuer.hitsOf("/.well-known/openid-configuration")).toBe(1);
    } finally {
      await api.close();
      await issuer.close();
    }
  });

  it("an unreachable auth server fails only the calls that need it, with Unavailable, and recovers", async () => {
    const issuer = await TestIssuer.start();
    issuer.down = true;
    const api = await startTestApi({}, { issuer, db: t.db, auth: { tokens: { cooldownMs: 200 } } });
    try {
      const token = await issuer.token({ sub: api.superadmin.publicId, perms: ["root"] });
      const users = api.client(UserService, "grpc-js", { token });
      const e = await callError(users.queryUsers({}));
      expect(e.code).toBe(Code.Unavailable);
      expect(detailOf(e)?.code).toBe("60012");
      expect((await api.client(ConfigService, "grpc-js", { token }).getPublicConfig({})).branding?.dashboardName).toBeTruthy();
      issuer.down = false;
      await new Promise((r) => setTimeout(r, 250));
      expect((await users.queryUsers({})).meta!.rowCount).toBeGreaterThan(0);
    } finally {
      await api.close();
      await issuer.close();
    }
  });
});
