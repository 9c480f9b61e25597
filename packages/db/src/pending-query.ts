/** postgres.js' Query: a lazy promise that hands itself to `handler` when first awaited. */
export interface PendingQuery extends Promise<unknown> {
  /** The template's string parts (or an `unsafe` query's text): read for the statement kind only. */
  strings?: unknown;
  handler: (q: PendingQuery) => void;
  reject: (e: unknown) => void;
  resolve: (v: unknown) => void;
}

export function isPendingQuery(x: unknown): x is PendingQuery {
  return x instanceof Promise && "handler" in x && typeof (x as { handler: unknown }).handler === "function" && "reject" in x;
}

/** The text postgres.js sent (`q.string`, set when it built the statement). */
export function sentText(q: PendingQuery): string | undefined {
  const text = (q as { string?: unknown }).string;
  return typeof text === "string" ? text : undefined;
}
