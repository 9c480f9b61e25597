import { invalidArgument } from "@altalune/core";

export interface TextField {
  value: string;
  /** Minimum length after trimming; 1 when absent. */
  minLen?: number;
}

interface Problem {
  field: string;
  rule: string;
  message: string;
}

function problemOf(field: string, trimmed: string, minLen: number): Problem | undefined {
  if (trimmed === "") return { field, rule: "string.not_blank", message: `${field} must not be blank` };
  // Code points, as protovalidate counts them.
  if ([...trimmed].length < minLen) return { field, rule: "string.min_len", message: `${field} must be at least ${minLen} characters` };
  return undefined;
}

function refuse(problems: readonly Problem[]): never {
  throw invalidArgument(
    problems.map((p) => p.message).join("; "),
    Object.fromEntries(problems.map((p) => [p.field, p.rule])),
  );
}

/**
 * Trims free-text fields and enforces what protovalidate cannot see: its length rules count the
 * untrimmed text, so "   " or " a" pass the proto but would be stored blank or too short. Every
 * offending field is reported in one error, like a proto violation (60001, field → rule id).
 */
export function trimmedFields<K extends string>(fields: Record<K, TextField>): Record<K, string> {
  const entries = (Object.entries(fields) as Array<[K, TextField]>).map(([key, { value, minLen = 1 }]) => {
    const trimmed = value.trim();
    return { key, trimmed, problem: problemOf(key, trimmed, minLen) };
  });
  const problems = entries.flatMap((e) => (e.problem ? [e.problem] : []));
  if (problems.length > 0) refuse(problems);
  return Object.fromEntries(entries.map((e) => [e.key, e.trimmed])) as Record<K, string>;
}

export function requireTrimmedName(field: string, value: string, minLen = 1): string {
  const trimmed = value.trim();
  const problem = problemOf(field, trimmed, minLen);
  if (problem) refuse([problem]);
  return trimmed;
}
