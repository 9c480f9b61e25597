import { getOption, hasOption, ScalarType, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { auth, type AuthRule } from "@altalune/proto";
import { isReadOnly } from "./call-audit.js";

export type { AuthRule };

/** The auth rule declared in the proto for a method, or undefined when it declares none. */
export function authRuleOf(method: DescMethod): AuthRule | undefined {
  return hasOption(method, auth) ? getOption(method, auth) : undefined;
}

/** The services among a module's exports (the generated `@altalune/proto` barrel, say). */
export function servicesIn(module: object): DescService[] {
  return (Object.values(module) as unknown[]).filter(
    (v): v is DescService => typeof v === "object" && v !== null && "kind" in v && (v as { kind: unknown }).kind === "service",
  );
}

/** The permissions a rule names: holding any one of them satisfies it. */
export function permissionsOfRule(rule: Pick<AuthRule, "permission" | "anyPermission">): string[] {
  return [...(rule.permission === "" ? [] : [rule.permission]), ...rule.anyPermission];
}

/** Every permission named by a rule of these services, sorted, each once. */
export function rulePermissions(services: readonly DescService[]): string[] {
  const named = services.flatMap((s) => s.methods.flatMap((m) => {
    const rule = authRuleOf(m);
    return rule === undefined ? [] : permissionsOfRule(rule);
  }));
  return [...new Set(named)].sort();
}

/**
 * What a project API key carries: the permissions of the rules that admit API keys (`api_key`).
 * Derived, so declaring `api_key: true` on an RPC is the whole of making it callable by a key.
 */
export function apiKeyPermissions(services: readonly DescService[]): ReadonlySet<string> {
  return new Set(services.flatMap((s) => s.methods.flatMap((m) => {
    const rule = authRuleOf(m);
    return rule?.apiKey === true ? permissionsOfRule(rule) : [];
  })));
}

/** Methods (as "pkg.Service/Method") that declare no auth rule: such a method is never served. */
export function methodsWithoutRule(services: readonly DescService[]): string[] {
  return services.flatMap((s) =>
    s.methods.filter((m) => authRuleOf(m) === undefined).map((m) => `${s.typeName}/${m.name}`),
  );
}

/** A rule must say exactly one kind of access, or it would be ambiguous which check applies. */
export function ruleProblems(method: DescMethod, rule: AuthRule): string[] {
  const name = `${method.parent.typeName}/${method.name}`;
  const hasPermission = rule.permission !== "" || rule.anyPermission.length > 0;
  const kinds = [rule.public, rule.authenticated, hasPermission].filter(Boolean).length;
  const problems: string[] = [];
  if (kinds !== 1) problems.push(`${name}: auth rule must set exactly one of public, authenticated, permission`);
  if (rule.projectScoped && !hasPermission) problems.push(`${name}: project_scoped requires a permission`);
  // An API key works inside its own project, and only where a permission says what it may do.
  if (rule.apiKey && !(hasPermission && rule.projectScoped)) problems.push(`${name}: api_key requires a permission and project_scoped`);
  if (rule.projectScoped && !method.input.fields.some((f) => f.name === "project_id")) {
    problems.push(`${name}: project_scoped but the request has no project_id field`);
  }
  if (rule.selfField !== "") {
    if (!hasPermission) problems.push(`${name}: self_field requires a permission (for callers asking about others)`);
    const field = method.input.fields.find((f) => f.name === rule.selfField);
    if (field === undefined || field.fieldKind !== "scalar" || field.scalar !== ScalarType.STRING) {
      problems.push(`${name}: self_field ${rule.selfField} is not a string field of the request`);
    }
  }
  // `audit` asks for a read to be audited; a mutation always is, so on one it would mean nothing.
  if (rule.audit && !isReadOnly(method)) problems.push(`${name}: audit is only for reads (idempotency_level = NO_SIDE_EFFECTS)`);
  return problems;
}
