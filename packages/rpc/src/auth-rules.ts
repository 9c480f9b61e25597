import { getOption, hasOption, ScalarType, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { auth, type AuthRule } from "@altalune/proto";
import { isReadOnly } from "./call-audit.js";

export type { AuthRule };

/** The auth rule declared in the proto for a method, or undefined when it declares none. */
export function authRuleOf(method: DescMethod): AuthRule | undefined {
  return hasOption(method, auth) ? getOption(method, auth) : undefined;
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
