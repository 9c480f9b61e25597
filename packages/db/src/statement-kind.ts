/** The kinds of statement the query-duration metric is labelled with: a small, fixed set. */
export type StatementKind = "select" | "insert" | "update" | "delete" | "other" | "transaction";

const KINDS: ReadonlySet<string> = new Set(["select", "insert", "update", "delete"]);
const byTemplate = new WeakMap<object, StatementKind>();

function kindOfText(text: string): StatementKind {
  // The first keyword only: the text after it (and every value) never leaves this function.
  const word = /^\s*(?:\(\s*)*([A-Za-z]+)/.exec(text)?.[1]?.toLowerCase();
  return word !== undefined && KINDS.has(word) ? (word as StatementKind) : "other";
}

/**
 * The statement kind of a postgres.js query from its first keyword: a tagged template's first
 * string part (the text before the first value), or an `unsafe` query's text. `with …` CTEs, DDL,
 * `set`, `lock` and a query that starts with a fragment are "other". Tagged templates are
 * remembered per call site, so the regex runs once per statement.
 */
export function statementKind(strings: unknown): StatementKind {
  if (typeof strings === "string") return kindOfText(strings);
  if (!Array.isArray(strings)) return "other";
  const known = byTemplate.get(strings);
  if (known !== undefined) return known;
  const first: unknown = strings[0];
  const kind = typeof first === "string" ? kindOfText(first) : "other";
  byTemplate.set(strings, kind);
  return kind;
}
