import { describe, expect, it } from "vitest";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import * as api from "@altalune/proto";
import { authRuleOf, ruleProblems } from "./auth-rules.js";
import { clientAddressOf, isAudited, isReadOnly, sideEffectProblems } from "./call-audit.js";

const services = (Object.values(api) as unknown[]).filter(
  (v): v is DescService => typeof v === "object" && v !== null && "kind" in v && (v as { kind: unknown }).kind === "service",
);
const methods = services.flatMap((s) => s.methods);

/** The method as if declared otherwise (a descriptor is a plain object underneath). */
function redeclared(method: DescMethod, change: { name?: string; idempotency?: MethodOptions_IdempotencyLevel }): DescMethod {
  return { ...method, ...change } as DescMethod;
}

describe("reads and mutations in the proto", () => {
  it("every RPC is a read (NO_SIDE_EFFECTS) or a mutation, consistently with its name and rule", () => {
    expect(methods.flatMap((m) => sideEffectProblems(m, authRuleOf(m)!))).toEqual([]);
    const reads = methods.filter(isReadOnly);
    const mutations = methods.filter((m) => !isReadOnly(m));
    expect(reads.length + mutations.length).toBe(methods.length);
    expect(reads.length).toBeGreaterThan(20);
    expect(mutations.length).toBeGreaterThan(30);
  });

  it("knows the reads that are audited anyway: the secret reveals", () => {
    const auditedReads = methods.filter((m) => isReadOnly(m) && isAudited(m, authRuleOf(m)!)).map((m) => `${m.parent.name}/${m.name}`);
    expect(auditedReads.sort()).toEqual(["OAuthClientService/RevealOAuthClientSecret", "OAuthProviderService/RevealClientSecret"]);
    // Every mutation is audited.
    expect(methods.filter((m) => !isReadOnly(m) && !isAudited(m, authRuleOf(m)!))).toEqual([]);
  });

  it("flags a read named like a mutation, a mutation named like a read, audit on a mutation, an unaudited reveal", () => {
    const create = api.RoleService.method.createRole;
    const get = api.RoleService.method.getRole;
    const reveal = api.OAuthClientService.method.revealOAuthClientSecret;
    const rule = (m: DescMethod) => authRuleOf(m)!;
    expect(sideEffectProblems(redeclared(create, { idempotency: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS }), rule(create))).toEqual([
      "altalune.v1.RoleService/CreateRole: declared NO_SIDE_EFFECTS but not named like a read (Get, List, Query, Reveal)",
    ]);
    expect(sideEffectProblems(redeclared(get, { idempotency: MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN }), rule(get))).toEqual([
      "altalune.v1.RoleService/GetRole: named like a read but not declared idempotency_level = NO_SIDE_EFFECTS",
    ]);
    expect(sideEffectProblems(reveal, { ...rule(reveal), audit: false })).toEqual([
      "altalune.v1.OAuthClientService/RevealOAuthClientSecret: a Reveal… RPC hands out a secret: its rule must say audit",
    ]);
    expect(sideEffectProblems(create, { ...rule(create), audit: true })).toEqual([
      "altalune.v1.RoleService/CreateRole: audit is for reads only (every mutation is audited)",
    ]);
    // The pipeline refuses to serve the last one at start-up too.
    expect(ruleProblems(create, { ...rule(create), audit: true })).toEqual([
      "altalune.v1.RoleService/CreateRole: audit is only for reads (idempotency_level = NO_SIDE_EFFECTS)",
    ]);
  });
});

describe("the client address of an audit row", () => {
  const headers = (xff?: string) => new Headers(xff === undefined ? {} : { "x-forwarded-for": xff });

  it("is the peer's, unless trusted proxies appended X-Forwarded-For; then the leftmost entry they appended", () => {
    expect(clientAddressOf(headers("203.0.113.7"), "10.0.0.2", 0)).toBe("10.0.0.2");
    expect(clientAddressOf(headers(), "10.0.0.2", 1)).toBe("10.0.0.2");
    expect(clientAddressOf(headers("198.51.100.1, 203.0.113.7"), "10.0.0.2", 1)).toBe("203.0.113.7");
    // A client-supplied first entry is not trusted past the configured hops.
    expect(clientAddressOf(headers("6.6.6.6, 198.51.100.1, 203.0.113.7"), "10.0.0.2", 2)).toBe("198.51.100.1");
  });
});
