import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { newPublicId, type AuditEventRecord } from "@altalune/core";
import { ensureAuditPartitions, writeAuditEvent } from "@altalune/db";
import { AuditService, type QueryAuditEventsRequest } from "@altalune/proto";
import { startTestApi, type TestApi } from "../../testing/api-harness.js";
import { callError } from "../../testing/errors.js";

// QueryAuditEvents over rows written by the one writer, at known times: filters, the time range,
// newest first, the capped total, and who may read the log at all.

let t: TestApi;
const DAY = 86_400_000;
/** Noon UTC a few days back: every fixture is at `base - n days`, all in the past. */
const base = new Date(Math.floor(Date.now() / DAY) * DAY - 3 * DAY + DAY / 2);
const at = (daysBack: number) => new Date(base.getTime() - daysBack * DAY);
const project = newPublicId();
const alice = newPublicId();
const bob = newPublicId();

const FIXTURES: AuditEventRecord[] = [
  { actorType: "user", actorId: alice, action: "altalune.v1.RoleService/UpdateRole", targetType: "role", targetId: "role00000001", result: "ok", occurredAt: at(0) },
  { actorType: "user", actorId: alice, action: "altalune.v1.EmployeeService/CreateEmployee", targetType: "employee", targetId: "emp000000001", projectId: project, result: "ok", occurredAt: at(1) },
  { actorType: "user", actorId: bob, action: "altalune.v1.EmployeeService/DeleteEmployee", targetType: "employee", targetId: "emp000000001", projectId: project, result: "PermissionDenied", occurredAt: at(2), tags: ["security"] },
  { actorType: "api_key", actorId: "key000000001", action: "altalune.v1.EmployeeService/UpdateEmployee", targetType: "employee", targetId: "emp000000002", projectId: project, result: "NotFound", occurredAt: at(3) },
  { actorType: "user", actorId: bob, action: "altalune.v1.OAuthClientService/RevealOAuthClientSecret", targetType: "oauth_client", targetId: "client000001", result: "ok", occurredAt: at(20), tags: ["security", "secret_revealed"] },
  { actorType: "anonymous", action: "auth.login.failed", targetType: "user", targetId: alice, result: "invalid_code", occurredAt: at(40), details: { method: "email_code", reason: "invalid_code" }, tags: ["security"] },
];
/** Newest first, by the index in FIXTURES. */
const order = (...indexes: number[]) => indexes.map((i) => FIXTURES[i]!.action + " " + FIXTURES[i]!.occurredAt!.toISOString());

async function tokenFor(perms: string[]): Promise<string> {
  const publicId = newPublicId();
  await t.db.sql`insert into altalune_users (public_id, email, first_name, last_name, is_active) values (${publicId}, ${`${publicId}@audit.test`}, 'Audit', 'Reader', true)`;
  return t.token({ sub: publicId, perms });
}

function query(req: Partial<QueryAuditEventsRequest> & { filters?: Record<string, string[]>; keyword?: string; page?: number; pageSize?: number }, token?: string) {
  const c = t.client(AuditService, "connect-json", token === undefined ? {} : { token });
  const filters = Object.fromEntries(Object.entries(req.filters ?? {}).map(([k, values]) => [k, { values }]));
  return c.queryAuditEvents({
    query: { pagination: { page: req.page ?? 1, pageSize: req.pageSize ?? 50 }, keyword: req.keyword ?? "", filters },
    ...(req.from ? { from: req.from } : {}),
    ...(req.to ? { to: req.to } : {}),
  });
}

/** Only the fixtures' time span (nothing else the test API writes falls in it). */
const span = { from: timestampFromDate(at(60)), to: timestampFromDate(new Date(base.getTime() + DAY / 4)) };

beforeAll(async () => {
  t = await startTestApi();
  await t.db.sql.begin((tx) => ensureAuditPartitions(tx, { from: at(100) }));
  for (const row of FIXTURES) await writeAuditEvent(t.db.sql, row);
});

afterAll(async () => {
  await t?.close();
});

describe("QueryAuditEvents", () => {
  it("lists the events newest first, every column as written", async () => {
    const res = await query({ ...span });
    expect(res.data.map((e) => `${e.action} ${e.occurredAt!.seconds ? new Date(Number(e.occurredAt!.seconds) * 1000).toISOString() : ""}`)).toEqual(order(0, 1, 2, 3, 4, 5));
    expect(res.meta).toMatchObject({ rowCount: 6, pageCount: 1 });
    expect(res.countCapped).toBe(false);
    const login = res.data[5]!;
    expect(login).toMatchObject({
      actorType: "anonymous",
      actorId: "",
      action: "auth.login.failed",
      targetType: "user",
      targetId: alice,
      result: "invalid_code",
      details: { method: "email_code", reason: "invalid_code" },
      tags: ["security"],
    });
    expect(res.meta?.filters["actor_type"]?.values).toEqual(["user", "api_key", "client", "anonymous", "system"]);
  });

  it.each<{ what: string; filters: Record<string, string[]>; want: number[] }>([
    { what: "actor", filters: { actor_id: [alice] }, want: [0, 1] },
    { what: "actor type", filters: { actor_type: ["api_key", "anonymous"] }, want: [3, 5] },
    { what: "action", filters: { action: ["altalune.v1.EmployeeService/CreateEmployee", "auth.login.failed"] }, want: [1, 5] },
    { what: "target", filters: { target_id: ["emp000000001"] }, want: [1, 2] },
    { what: "target type", filters: { target_type: ["oauth_client"] }, want: [4] },
    { what: "project", filters: { project_id: [project] }, want: [1, 2, 3] },
    { what: "result", filters: { result: ["permissiondenied", "NotFound"] }, want: [2, 3] },
    { what: "tag", filters: { tag: ["secret_revealed"] }, want: [4] },
    { what: "filters together", filters: { project_id: [project], actor_id: [bob] }, want: [2] },
    { what: "camelCase keys", filters: { projectId: [project], actorType: ["api_key"] }, want: [3] },
  ])("filters by $what", async ({ filters, want }) => {
    const res = await query({ ...span, filters });
    expect(res.data.map((e) => `${e.action} ${new Date(Number(e.occurredAt!.seconds) * 1000).toISOString()}`)).toEqual(order(...want));
    expect(res.meta?.rowCount).toBe(want.length);
  });

  it("takes a time range: at or after `from`, before `to`; either alone", async () => {
    const exact = await query({ from: timestampFromDate(at(3)), to: timestampFromDate(at(1)) });
    expect(exact.data.map((e) => e.action)).toEqual([FIXTURES[2]!.action, FIXTURES[3]!.action]);
    const older = await query({ from: span.from, to: timestampFromDate(at(10)) });
    expect(older.data.map((e) => e.result)).toEqual(["ok", "invalid_code"]);
    const since = await query({ from: timestampFromDate(at(2)), to: span.to });
    expect(since.meta?.rowCount).toBe(3);
    expect((await callError(query({ from: timestampFromDate(at(1)), to: timestampFromDate(at(2)) }))).code).toBe(Code.InvalidArgument);
  });

  it("searches a keyword in the action and the actor's and target's ids", async () => {
    expect((await query({ ...span, keyword: "RevealOAuth" })).data.map((e) => e.targetId)).toEqual(["client000001"]);
    expect((await query({ ...span, keyword: "emp000000002" })).meta?.rowCount).toBe(1);
  });

  it("counts at most 10,000 matches and says so; pages past the count still come back", async () => {
    // Before the fixtures' span, so the other tests do not see them.
    const many = at(90);
    await t.db.sql`
      insert into altalune_audit_events (occurred_at, actor_type, action, result)
      select ${many}::timestamptz + make_interval(secs => g), 'system', 'test.bulk', 'ok' from generate_series(1, 10005) g`;
    const res = await query({ filters: { action: ["test.bulk"] }, pageSize: 10 });
    expect(res.countCapped).toBe(true);
    expect(res.meta).toMatchObject({ rowCount: 10_000, pageCount: 1000 });
    // Newest first: the last second written comes first.
    expect(new Date(Number(res.data[0]!.occurredAt!.seconds) * 1000).getTime()).toBe(many.getTime() + 10005 * 1000);
    expect((await query({ filters: { action: ["test.bulk"] }, pageSize: 10, page: 1001 })).data).toHaveLength(5);
    expect((await query({ filters: { action: ["test.bulk"] }, pageSize: 10, page: 1002 })).data).toHaveLength(0);
    const exact = await query({ ...span });
    expect(exact.countCapped).toBe(false);
  });

  it("needs audit:read (root has it); other callers are refused, and a refused read writes nothing", async () => {
    const reader = await tokenFor(["audit:read"]);
    expect((await query({ ...span }, reader)).meta?.rowCount).toBe(6);
    const other = await tokenFor(["employee:read", "iam:read"]);
    const before = await t.db.sql`select count(*)::int as n from altalune_audit_events`;
    const refused = await callError(query({ ...span }, other));
    expect(refused.code).toBe(Code.PermissionDenied);
    expect(refused.rawMessage).toContain("audit:read");
    expect((await callError(query({ ...span }, null as unknown as string))).code).toBe(Code.Unauthenticated);
    expect(await t.db.sql`select count(*)::int as n from altalune_audit_events`).toEqual(before);
  });
});
