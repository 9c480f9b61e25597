import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { captureLogger } from "@altalune/test-kit";
import { ApiKeyService, ProjectService, QueryApiKeysResponseSchema, SortOrder } from "@altalune/proto";
import { ApiKeyVerifier } from "../../auth/api-key-verifier.js";
import { startTestApi, TRANSPORTS, type TestApi } from "../../testing/api-harness.js";
import { callError, detailOf } from "../../testing/errors.js";
import { expectInvalidOnBothProtocols } from "../../testing/refusals.js";
import { listQuery, type ListQueryOver as Over } from "../../testing/list-query.js";
import { parseApiKey } from "./key-format.js";
import { ApiKeyRepo } from "./repo.js";

const DAY = 24 * 60 * 60 * 1000;
const log = captureLogger("trace");
const logLines = log.lines;

let api: TestApi;
let projectA: string;
let projectB: string;
const issuedKeys: string[] = [];

beforeAll(async () => {
  // Trace level: the most the server can log, so the test sees every line a key could slip into.
  api = await startTestApi({ LOG_LEVEL: "trace" }, { logger: log.logger });
  const projects = api.client(ProjectService, "connect-binary");
  projectA = (await projects.createProject({ name: "Keys A", timezone: "UTC", environment: "live" })).project!.id;
  projectB = (await projects.createProject({ name: "Keys B", timezone: "UTC", environment: "live" })).project!.id;
});
afterAll(async () => {
  await api?.close();
});

const inDays = (days: number) => timestampFromDate(new Date(Date.now() + days * DAY));

describe.each(TRANSPORTS)("ApiKeyService over %s", (transport) => {
  const tag = transport.replace(/[^a-z]/g, " ").replace(/\s+/g, " ").trim();

  it("creates a key shown once, then gets, updates, deactivates, activates, lists and deletes it", async () => {
    const keys = api.client(ApiKeyService, transport);
    const created = await keys.createApiKey({ projectId: projectA, name: `CI ${tag}`, expiration: inDays(90) });
    expect(created.message).toBe("API key created successfully");
    const key = created.apiKey!;
    issuedKeys.push(created.keyValue);
    expect(created.keyValue).toMatch(/^sk-[23456789a-hj-np-z]{28}[A-Za-z0-9_-]{43}$/);
    expect(parseApiKey(created.keyValue)).toMatchObject({ projectPublicId: projectA, keyPublicId: key.id });
    expect(key).toMatchObject({ name: `CI ${tag}`, active: true, status: "active" });

    const got = await keys.getApiKey({ projectId: projectA, apiKeyId: key.id });
    expect(got.apiKey).toEqual(key);

    const newExpiration = inDays(5);
    const updated = await keys.updateApiKey({ projectId: projectA, apiKeyId: key.id, name: `CI ${tag} renamed`, expiration: newExpiration });
    expect(updated.message).toBe("API key updated successfully");
    expect(updated.apiKey).toMatchObject({ name: `CI ${tag} renamed`, status: "expiring_soon" });

    const off = await keys.deactivateApiKey({ projectId: projectA, apiKeyId: key.id });
    expect(off.message).toBe("API key deactivated successfully");
    expect(off.apiKey).toMatchObject({ active: false, status: "inactive" });
    // Deactivation keeps the expiration.
    expect(timestampDate(off.apiKey!.expiration!).getTime()).toBe(timestampDate(newExpiration).getTime());

    const on = await keys.activateApiKey({ projectId: projectA, apiKeyId: key.id });
    expect(on.message).toBe("API key activated successfully");
    expect(on.apiKey).toMatchObject({ active: true, status: "expiring_soon" });

    const listed = await keys.queryApiKeys({
      projectId: projectA,
      query: { pagination: { page: 1, pageSize: 10 }, keyword: `ci ${tag} ren`, filters: {} },
    });
    expect(listed.data.map((k) => k.id)).toEqual([key.id]);

    expect((await keys.deleteApiKey({ projectId: projectA, apiKeyId: key.id })).message).toBe("API key deleted successfully");
    const gone = await callError(keys.getApiKey({ projectId: projectA, apiKeyId: key.id }));
    expect(gone.code).toBe(Code.NotFound);
    expect(detailOf(gone)).toEqual({ code: "60401", meta: { api_key_id: key.id } });
  });
});

describe("rules", () => {
  const keys = () => api.client(ApiKeyService, "connect-binary");

  it("names are unique per project, case-insensitively; other projects may reuse them", async () => {
    await keys().createApiKey({ projectId: projectA, name: "Deploy", expiration: inDays(30) });
    await keys().createApiKey({ projectId: projectB, name: "Deploy", expiration: inDays(30) });
    const dup = await callError(keys().createApiKey({ projectId: projectA, name: "DEPLOY", expiration: inDays(30) }));
    expect(dup.code).toBe(Code.AlreadyExists);
    expect(detailOf(dup)).toEqual({ code: "60402", meta: { name: "DEPLOY" } });
    const other = (await keys().createApiKey({ projectId: projectA, name: "Other", expiration: inDays(30) })).apiKey!;
    const onto = await callError(keys().updateApiKey({ projectId: projectA, apiKeyId: other.id, name: "deploy", expiration: inDays(30) }));
    expect(detailOf(onto)?.code).toBe("60402");
  });

  it("concurrent creates with one name: exactly one succeeds", async () => {
    const results = await Promise.allSettled(
      ["Race", "race", "RACE"].map((name) => keys().createApiKey({ projectId: projectA, name, expiration: inDays(30) })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(ConnectError.from(r.reason).code).toBe(Code.AlreadyExists);
  });

  it.each([
    { what: "expiration in the past", req: { name: "Past", expiration: inDays(-1) }, meta: { expiration: "timestamp.gt_now" } },
    { what: "expiration beyond two years", req: { name: "Far", expiration: inDays(2 * 366) }, meta: { expiration: "timestamp.within" } },
    { what: "no expiration", req: { name: "None" }, meta: { expiration: "required" } },
    { what: "name with symbols", req: { name: "bad$name", expiration: inDays(1) }, meta: { name: "string.pattern" } },
    { what: "blank name", req: { name: "   ", expiration: inDays(1) }, meta: { name: "string.not_blank" } },
  ])("$what → InvalidArgument, nothing written", async ({ req, meta }) => {
    const create = (transport: "connect-json" | "grpc-js") => api.client(ApiKeyService, transport).createApiKey({ projectId: projectA, ...req });
    await expectInvalidOnBothProtocols(create, meta, () => api.db.sql`select count(*)::int as n from altalune_project_api_keys`);
  });

  it("keys of project A are not found through project B", async () => {
    const key = (await keys().createApiKey({ projectId: projectA, name: "Isolated", expiration: inDays(30) })).apiKey!;
    const calls = [
      () => keys().getApiKey({ projectId: projectB, apiKeyId: key.id }),
      () => keys().updateApiKey({ projectId: projectB, apiKeyId: key.id, name: "Hijack", expiration: inDays(9) }),
      () => keys().activateApiKey({ projectId: projectB, apiKeyId: key.id }),
      () => keys().deactivateApiKey({ projectId: projectB, apiKeyId: key.id }),
      () => keys().deleteApiKey({ projectId: projectB, apiKeyId: key.id }),
    ];
    for (const call of calls) expect(detailOf(await callError(call()))?.code).toBe("60401");
    expect((await keys().getApiKey({ projectId: projectA, apiKeyId: key.id })).apiKey).toMatchObject({ name: "Isolated", active: true });
  });
});

describe("time: status filter, expiry and activation at fixed clock times", () => {
  let project: string;
  const ids = new Map<string, string>();
  const start = Date.now();
  const servers: TestApi[] = [];

  /** A second server on the same database whose clock reads `start + days`. */
  async function at(days: number): Promise<TestApi> {
    const server = await startTestApi({}, { db: api.db, clock: () => new Date(start + days * DAY) });
    servers.push(server);
    return server;
  }

  beforeAll(async () => {
    project = (await api.client(ProjectService, "connect-binary").createProject({ name: "Clockwork", timezone: "UTC", environment: "live" })).project!.id;
    const keys = api.client(ApiKeyService, "connect-binary");
    for (const [name, days, active] of [
      ["k30", 30, true],
      ["k5", 5, true],
      ["k30off", 30, false],
      ["k1", 1, true],
      ["k1off", 1, false],
    ] as const) {
      const k = (await keys.createApiKey({ projectId: project, name, expiration: timestampFromDate(new Date(start + days * DAY)) })).apiKey!;
      if (!active) await keys.deactivateApiKey({ projectId: project, apiKeyId: k.id });
      ids.set(name, k.id);
    }
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  const STATUSES = ["active", "expiring_soon", "inactive", "expired"] as const;
  it.each([
    { day: 0, expect: { active: ["k30"], expiring_soon: ["k1", "k5"], inactive: ["k1off", "k30off"], expired: [] } },
    { day: 3, expect: { active: ["k30"], expiring_soon: ["k5"], inactive: ["k30off"], expired: ["k1", "k1off"] } },
    { day: 25, expect: { active: [], expiring_soon: ["k30"], inactive: ["k30off"], expired: ["k1", "k1off", "k5"] } },
    { day: 31, expect: { active: [], expiring_soon: [], inactive: [], expired: ["k1", "k1off", "k30", "k30off", "k5"] } },
  ])("day $day: every key has exactly one status", async ({ day, expect: expected }) => {
    const server = await at(day);
    const keys = server.client(ApiKeyService, "connect-json");
    const seen: string[] = [];
    for (const status of STATUSES) {
      const res = await keys.queryApiKeys({
        projectId: project,
        query: { pagination: { page: 1, pageSize: 50 }, filters: { status: { values: [status] } }, sorting: { field: "name", order: SortOrder.ASC } },
      });
      const names = res.data.map((k) => k.name);
      expect(names, status).toEqual(expected[status]);
      for (const k of res.data) expect(k.status).toBe(status);
      seen.push(...names);
    }
    expect(seen.sort()).toEqual([...ids.keys()].sort());
    const both = await keys.queryApiKeys({
      projectId: project,
      query: { pagination: { page: 1, pageSize: 50 }, filters: { statuses: { values: ["ACTIVE", "expired"] } } },
    });
    expect(both.data.length).toBe(expected.active.length + expected.expired.length);
  });

  it("an expired key cannot be activated until it gets a new expiration", async () => {
    const later = (await at(3)).client(ApiKeyService, "grpc-js");
    const err = await callError(later.activateApiKey({ projectId: project, apiKeyId: ids.get("k1off")! }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(detailOf(err)).toEqual({ code: "60403", meta: { api_key_id: ids.get("k1off")! } });
    // Deactivating an expired key is still allowed (it is harmless).
    await later.deactivateApiKey({ projectId: project, apiKeyId: ids.get("k1")! });
  });

  it("the service checks expirations against its own clock", async () => {
    const later = (await at(800)).client(ApiKeyService, "connect-json");
    const err = await callError(later.createApiKey({ projectId: project, name: "Stale", expiration: inDays(30) }));
    expect(detailOf(err)).toEqual({ code: "60001", meta: { expiration: "timestamp.gt_now" } });
  });

  it("returns the names and the four statuses as the catalog", async () => {
    const res = await api.client(ApiKeyService, "connect-json").queryApiKeys({ projectId: project, query: { pagination: { page: 1, pageSize: 1 } } });
    expect(res.meta?.filters["names"]?.values).toEqual(["k1", "k1off", "k30", "k30off", "k5"]);
    expect(res.meta?.filters["statuses"]?.values).toEqual(["active", "expiring_soon", "inactive", "expired"]);
    expect(res.meta).toMatchObject({ rowCount: 5, pageCount: 5 });
  });
});

describe("verifyApiKey", () => {
  let value: string;
  let keyId: string;
  let touches = 0;
  let repo: ApiKeyRepo;
  const verifierAt = (days: number) => {
    const counting = {
      findCredential: (p: string, k: string) => repo.findCredential(p, k),
      touchLastUsed: async (p: string, k: string) => {
        touches++;
        await repo.touchLastUsed(p, k);
      },
    };
    return new ApiKeyVerifier(counting, () => new Date(Date.now() + days * DAY), { warn: () => {} });
  };

  beforeAll(async () => {
    repo = new ApiKeyRepo(api.db.sql);
    const created = await api.client(ApiKeyService, "connect-json").createApiKey({ projectId: projectB, name: "Verify me", expiration: inDays(10) });
    value = created.keyValue;
    keyId = created.apiKey!.id;
    issuedKeys.push(value);
  });

  it("accepts the key, naming its project, and records the use at most once a minute", async () => {
    const verifier = verifierAt(0);
    const result = await verifier.verify(value);
    expect(result).toMatchObject({ ok: true, projectPublicId: projectB, keyPublicId: keyId });
    await verifier.verify(value);
    await verifier.verify(value);
    expect(touches).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    const got = await api.client(ApiKeyService, "connect-json").getApiKey({ projectId: projectB, apiKeyId: keyId });
    expect(got.apiKey?.lastUsedAt).toBeDefined();
  });

  it.each([
    { what: "a wrong secret", mutate: (v: string) => v.slice(0, -1) + (v.endsWith("A") ? "B" : "A"), reason: "unknown" },
    { what: "another project's id", mutate: (v: string) => v.replace(projectB, projectA), reason: "unknown" },
    { what: "garbage", mutate: () => "sk-not-a-key", reason: "malformed" },
    { what: "a bearer JWT", mutate: () => "eyJhbGciOiJSUzI1NiJ9.e30.sig", reason: "malformed" },
  ])("refuses $what", async ({ mutate, reason }) => {
    expect(await verifierAt(0).verify(mutate(value))).toEqual({ ok: false, reason });
  });

  it("refuses a deactivated key, an expired key and a deleted key", async () => {
    const keys = api.client(ApiKeyService, "connect-json");
    await keys.deactivateApiKey({ projectId: projectB, apiKeyId: keyId });
    expect(await verifierAt(0).verify(value)).toEqual({ ok: false, reason: "inactive" });
    await keys.activateApiKey({ projectId: projectB, apiKeyId: keyId });
    expect(await verifierAt(11).verify(value)).toEqual({ ok: false, reason: "expired" });
    await keys.deleteApiKey({ projectId: projectB, apiKeyId: keyId });
    expect(await verifierAt(0).verify(value)).toEqual({ ok: false, reason: "unknown" });
  });
});

describe("the key is shown once", () => {
  it("appears in no other response, not in the database, not in the logs", async () => {
    const keys = api.client(ApiKeyService, "connect-json");
    const created = await keys.createApiKey({ projectId: projectA, name: "Secret keeper", expiration: inDays(20) });
    issuedKeys.push(created.keyValue);
    const id = created.apiKey!.id;
    const responses = [
      toJsonString(QueryApiKeysResponseSchema, await keys.queryApiKeys({ projectId: projectA, query: { pagination: { page: 1, pageSize: 100 } } })),
      JSON.stringify(await keys.getApiKey({ projectId: projectA, apiKeyId: id }), (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)),
    ];
    const dump = await api.db.sql<{ row: string }[]>`select t::text as row from altalune_project_api_keys t`;
    const secrets = issuedKeys.map((k) => parseApiKey(k)?.secret ?? k);
    expect(secrets.length).toBeGreaterThan(5);
    for (const secret of secrets) {
      for (const r of responses) expect(r).not.toContain(secret);
      for (const { row } of dump) {
        expect(row).not.toContain(secret);
        expect(row).not.toContain(Buffer.from(secret).toString("hex"));
      }
      for (const line of logLines) expect(line).not.toContain(secret);
    }
    expect(logLines.length).toBeGreaterThan(10);
  });
});

describe("deleting a project", () => {
  it("removes its keys and nothing else", async () => {
    const projects = api.client(ProjectService, "connect-binary");
    const doomed = (await projects.createProject({ name: "Keys doomed", timezone: "UTC", environment: "sandbox" })).project!.id;
    await api.client(ApiKeyService, "connect-binary").createApiKey({ projectId: doomed, name: "Gone soon", expiration: inDays(3) });
    const [others] = await api.db.sql<{ n: number }[]>`
      select count(*)::int as n from altalune_project_api_keys k join altalune_projects p on p.id = k.project_id where p.public_id <> ${doomed}`;
    await projects.deleteProject({ id: doomed });
    const [after] = await api.db.sql<{ n: number }[]>`select count(*)::int as n from altalune_project_api_keys`;
    expect(after?.n).toBe(others?.n);
  });
});

describe("QueryApiKeys", () => {
  let project: string;
  const ids = new Map<string, string>();

  beforeAll(async () => {
    project = (await api.client(ProjectService, "connect-binary").createProject({ name: "Key list", timezone: "UTC", environment: "live" })).project!.id;
    const keys = api.client(ApiKeyService, "connect-binary");
    for (const [name, days] of [
      ["alpha-ci", 40],
      ["beta-ci", 20],
      ["gamma-deploy", 60],
      ["delta-deploy", 30],
      ["epsilon", 50],
    ] as const) {
      ids.set(name, (await keys.createApiKey({ projectId: project, name, expiration: inDays(days) })).apiKey!.id);
    }
    await keys.deactivateApiKey({ projectId: project, apiKeyId: ids.get("delta-deploy")! });
  });

  const query = (over: Over) => ({ projectId: project, query: listQuery(over) });

  it.each([
    { what: "keyword over the name", q: { keyword: "CI", sort: ["name", SortOrder.ASC] } as Over, names: ["alpha-ci", "beta-ci"] },
    { what: "names filter, case-insensitive", q: { filters: { names: ["GAMMA-deploy", "epsilon"] }, sort: ["name", SortOrder.ASC] } as Over, names: ["epsilon", "gamma-deploy"] },
    { what: "keyword + status filter", q: { keyword: "deploy", filters: { statuses: ["inactive"] } } as Over, names: ["delta-deploy"] },
    { what: "sort by expiration, descending", q: { sort: ["expiration", SortOrder.DESC] } as Over, names: ["gamma-deploy", "epsilon", "alpha-ci", "delta-deploy", "beta-ci"] },
    { what: "page 2 of size 2 by name", q: { sort: ["name", SortOrder.ASC], page: 2, pageSize: 2 } as Over, names: ["delta-deploy", "epsilon"] },
    { what: "unknown sort field falls back to updated_at", q: { sort: ["secret", SortOrder.ASC] } as Over, names: ["alpha-ci", "beta-ci", "gamma-deploy", "epsilon", "delta-deploy"] },
  ])("$what", async ({ q, names }) => {
    const res = await api.client(ApiKeyService, "grpc-js").queryApiKeys(query(q));
    expect(res.data.map((k) => k.id)).toEqual(names.map((n) => ids.get(n)));
  });

  it("counts pages", async () => {
    const res = await api.client(ApiKeyService, "connect-json").queryApiKeys(query({ pageSize: 2 }));
    expect(res.meta).toMatchObject({ rowCount: 5, pageCount: 3 });
  });
});
