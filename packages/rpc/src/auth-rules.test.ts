import { describe, expect, it } from "vitest";
import type { DescService } from "@bufbuild/protobuf";
import * as api from "@altalune/proto";
import { authRuleOf, methodsWithoutRule, ruleProblems } from "./auth-rules.js";

const services = (Object.values(api) as unknown[]).filter(
  (v): v is DescService => typeof v === "object" && v !== null && "kind" in v && (v as { kind: unknown }).kind === "service",
);

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
});
