import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AppError, createLogger } from "@altalune/core";
import {
  CreateApiKeyRequestSchema,
  CreateEmployeeRequestSchema,
  DeleteEmployeeRequestSchema,
  EmployeeStatus,
  GetApiKeyRequestSchema,
  GetEmployeeRequestSchema,
  ProjectService,
  QueryEmployeesRequestSchema,
  UpdateEmployeeRequestSchema,
} from "@altalune/proto";
import { createContextValues, createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import { principalKey } from "@altalune/rpc";
import { createContainer } from "../../container.js";
import { startTestApi, type TestApi } from "../../testing/api-harness.js";
import { projectIdCache } from "./repo.js";

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

/** The code an operation fails with (an AppError's ErrorDetail code). */
async function codeOf(op: Promise<unknown>): Promise<string> {
  try {
    await op;
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
  throw new Error("expected the operation to fail");
}

function rootContext(): HandlerContext {
  const ctx = createHandlerContext({
    service: ProjectService,
    method: ProjectService.method.getProject,
    protocolName: "test",
    requestMethod: "POST",
    url: "/",
    requestSignal: new AbortController().signal,
    contextValues: createContextValues(),
  });
  ctx.values.set(principalKey, {
    kind: "user", userPublicId: api.superadmin.publicId, clientId: undefined,
    permissions: new Set(["root"]), memberships: new Map(), emailVerified: true,
  });
  return ctx;
}

describe("project ids remembered by a replica", () => {
  it("a project deleted by another replica is NotFound 60301 on every project-scoped operation, as if looked up afresh", async () => {
    // This replica's services: a container of its own, so its own ProjectRepo (and its remembered ids).
    const replica = createContainer({ sql: api.db.sql, config: api.config, logger: createLogger({ level: api.config.logLevel }) });
    const { employee: employees, apiKey: keys } = replica.services;
    const projectId = (await api.client(ProjectService, "connect-binary").createProject({ name: "Replica cache", timezone: "UTC", environment: "sandbox" })).project!.id;
    const person = { projectId, name: "Cached Person", email: "cached.person@example.com", role: "Engineer", department: "Platform", status: EmployeeStatus.ACTIVE };
    const created = await employees.createEmployee(create(CreateEmployeeRequestSchema, person));
    const employeeId = created.employee!.id;
    const key = await keys.createApiKey(
      create(CreateApiKeyRequestSchema, { projectId, name: "Cached key", expiration: timestampFromDate(new Date(Date.now() + 86_400_000)) }),
      rootContext(),
    );
    // Remembered: reading it now costs no project lookup.
    expect((await employees.getEmployee(create(GetEmployeeRequestSchema, { projectId, employeeId }))).employee?.id).toBe(employeeId);

    // The other replica (the test server) deletes the project; this one is not told.
    await api.client(ProjectService, "connect-binary").deleteProject({ id: projectId });

    expect(await codeOf(employees.getEmployee(create(GetEmployeeRequestSchema, { projectId, employeeId })))).toBe("60301");
    expect(await codeOf(employees.queryEmployees(create(QueryEmployeesRequestSchema, { projectId, query: { pagination: { page: 1, pageSize: 10 } } })))).toBe("60301");
    expect(await codeOf(employees.updateEmployee(create(UpdateEmployeeRequestSchema, { ...person, employeeId })))).toBe("60301");
    expect(await codeOf(employees.deleteEmployee(create(DeleteEmployeeRequestSchema, { projectId, employeeId })))).toBe("60301");
    expect(await codeOf(employees.createEmployee(create(CreateEmployeeRequestSchema, { ...person, email: "other@example.com" })))).toBe("60301");
    expect(await codeOf(keys.getApiKey(create(GetApiKeyRequestSchema, { projectId, apiKeyId: key.apiKey!.id })))).toBe("60301");
    // Invalid input for an existing project would be 60xxx of its own domain; for a gone one the project comes first.
    expect(await codeOf(employees.createEmployee(create(CreateEmployeeRequestSchema, { ...person, name: " " })))).toBe("60301");
  });

  it("is bounded: the oldest entry goes first", () => {
    const cache = projectIdCache(2);
    cache.set("a", "1");
    cache.set("b", "2");
    cache.set("c", "3");
    expect([cache.get("a")?.value, cache.get("b")?.value, cache.get("c")?.value]).toEqual([undefined, "2", "3"]);
  });
});
