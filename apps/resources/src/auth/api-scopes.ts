import type { DescService } from "@bufbuild/protobuf";
import * as api from "@altalune/proto";
import { authRuleOf } from "@altalune/rpc";
import { ROOT_PERMISSION } from "@altalune/core";

/*
 * The OAuth scopes of the Resources API (API_AUDIENCE): every system permission a method's rule
 * names (employee:read, iam:write, ...), read from the descriptors, so a new rule is a new scope
 * without a second list to keep in step. `root` is never a scope (no rule names it, and it is
 * refused here in case one ever did). Custom, renamable permissions are not scopes: a rule cannot
 * name them, so a token gains nothing from them at this API. The auth server (scopes_supported,
 * the consent page, the token ceiling) and OAuthClientService (allowed_scopes) use this one list.
 */

const services = (Object.values(api) as unknown[]).filter(
  (v): v is DescService => typeof v === "object" && v !== null && "kind" in v && (v as { kind: unknown }).kind === "service",
);

function namedByRules(): string[] {
  const names = new Set<string>();
  for (const service of services) {
    for (const method of service.methods) {
      const rule = authRuleOf(method);
      if (rule === undefined) continue;
      if (rule.permission !== "") names.add(rule.permission);
      for (const p of rule.anyPermission) names.add(p);
    }
  }
  names.delete(ROOT_PERMISSION);
  return [...names].sort();
}

/** Sorted. */
export const API_SCOPES: readonly string[] = Object.freeze(namedByRules());
const API_SCOPE_SET: ReadonlySet<string> = new Set(API_SCOPES);

export const isApiScope = (scope: string): boolean => API_SCOPE_SET.has(scope);
