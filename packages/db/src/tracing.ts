import { context, SpanKind, SpanStatusCode, trace, tracingActive, type Tracer } from "@altalune/core";
import { observePool, type PoolObserver } from "./pool-observers.js";
import type { Sql } from "./pool.js";
import type { StatementKind } from "./statement-kind.js";

// Database spans (docs/observability.md "Tracing"): one CLIENT span per statement, named by its
// kind (`select`, …), with the statement text as postgres.js sent it — `$1…$n` placeholders, so
// no value is ever in a span — and one span per `sql.begin` transaction, parent of the spans of
// the statements inside it. Statement spans are made when the statement settles (start time
// back-dated), in the caller's async context, so they are children of the RPC or auth span.

const traced = new WeakSet<object>();

function tracer(): Tracer {
  return trace.getTracer("altalune-db");
}

/** Milliseconds since the epoch of a performance.now() reading: the SDK's TimeInput. */
const epochMs = (perfMs: number) => performance.timeOrigin + perfMs;

/**
 * Traces the statements of a pool made by createPool, once per pool (`altalune dev`'s two apps
 * share one), and only when tracing was started: otherwise nothing is registered and the pool's
 * path is unchanged. Returns the function that stops it.
 */
export function traceStatements(sql: Sql, dbName?: string): () => void {
  if (!tracingActive() || traced.has(sql)) return () => {};
  traced.add(sql);
  const base = { "db.system.name": "postgresql", "db.system": "postgresql", ...(dbName ? { "db.namespace": dbName } : {}) };
  const observer: PoolObserver = {
    statementsInTransactions: true,
    settled(kind: StatementKind, _seconds, ok, detail) {
      // The transaction's own span is live (below); statements outside any traced call are not
      // traced (background purges, the health probe's own pool is not observed at all).
      if (kind === "transaction" || !tracingActive()) return;
      const parent = context.active();
      if (trace.getSpan(parent) === undefined) return;
      const operation = kind === "other" ? undefined : kind.toUpperCase();
      const span = tracer().startSpan(
        operation ?? "postgresql",
        {
          kind: SpanKind.CLIENT,
          startTime: epochMs(detail.startedAt),
          attributes: { ...base, ...(operation === undefined ? {} : { "db.operation.name": operation }), ...(detail.text === undefined ? {} : { "db.query.text": detail.text }) },
        },
        parent,
      );
      // The driver's message can quote a value (`invalid input syntax … "x"`): the status says failed, no more.
      if (!ok) span.setStatus({ code: SpanStatusCode.ERROR, message: "statement failed" });
      span.end();
    },
    transaction(run) {
      if (!tracingActive() || trace.getActiveSpan() === undefined) return run();
      return tracer().startActiveSpan("transaction", { kind: SpanKind.CLIENT, attributes: { ...base, "db.operation.name": "TRANSACTION" } }, async (span) => {
        try {
          return await run();
        } catch (e) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.name : "failed" });
          throw e;
        } finally {
          span.end();
        }
      });
    },
  };
  const stop = observePool(sql, observer);
  return () => {
    traced.delete(sql);
    stop();
  };
}
