import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import * as api from "@altalune/proto";
import { AuthRuleSchema } from "@altalune/proto";
import { apiKeyPermissions, authRuleOf, methodsWithoutRule, rulePermissions, ruleProblems, servicesIn } from "./auth-rules.js";

const services = servicesIn(api);

describe("auth rules in the proto", () => {
  it("finds the API's services", () => {
    expect(services.map((s) => s.typeName)).toEqual(expect.arrayContaining(["altalune.v1.ProjectService", "altalune.v1.ConfigService"]));
  });

  it("every RPC declares a rule", () => {
    expect(methodsWithoutRule(services)).toEqual([]);
  });

  it("every rule is well-formed", () => {
    const problems = services.flatMap((s) => s.methods.flatMap((m) => ruleProblems(m, authRuleOf(m)!)));
    expect(problems).toEqual([]);
  });

  it("reads the declared rule", () => {
    const create = api.ProjectService.method.createProject;
    expect(authRuleOf(create)).toMatchObject({ permission: "project:write", public: false, projectScoped: false });
    expect(authRuleOf(api.ConfigService.method.getPublicConfig)).toMatchObject({ public: true });
  });

  it("reads api_key, and collects the permissions API keys carry from the rules that admit them", () => {
    expect(authRuleOf(api.EmployeeService.method.queryEmployees)).toMatchObject({ permission: "employee:read", projectScoped: true, apiKey: true });
    expect(authRuleOf(api.ApiKeyService.method.createApiKey)).toMatchObject({ apiKey: false });
    expect([...apiKeyPermissions(services)].sort()).toEqual(["employee:delete", "employee:read", "employee:write"]);
  });

  it("collects every permission the rules name, once", () => {
    const named = rulePermissions(services);
    expect(named).toEqual([...new Set(named)].sort());
    expect(named).toEqual(expect.arrayContaining(["project:write", "employee:read", "audit:read", "dashboard:read"]));
  });

  it("refuses api_key without a permission or without project_scoped", () => {
    const method = api.EmployeeService.method.queryEmployees; // has project_id
    const rule = (init: Parameters<typeof create<typeof AuthRuleSchema>>[1]) => ruleProblems(method, create(AuthRuleSchema, init));
    const problem = "altalune.v1.EmployeeService/QueryEmployees: api_key requires a permission and project_scoped";
    expect(rule({ permission: "employee:read", projectScoped: true, apiKey: true })).toEqual([]);
    expect(rule({ permission: "employee:read", apiKey: true })).toEqual([problem]);
    expect(rule({ authenticated: true, apiKey: true })).toEqual([problem]);
    expect(rule({ public: true, apiKey: true })).toEqual([problem]);
  });
});
