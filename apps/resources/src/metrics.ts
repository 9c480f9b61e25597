import type { DescMethod, Message } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { bounded, Counter, createMetricsRegistry, DURATION_BUCKETS, Gauge, Histogram, isAppError, type Registry } from "@altalune/core";
import { observePool, poolStats, type QueryObserver, type Sql, type StatementKind } from "@altalune/db";
import type { AuditWrite, AuthStep, CallInfo, CallObserver } from "@altalune/rpc";
import { AuthCodes } from "@altalune/access-tokens";

// The Resources API's metrics (docs/observability.md has the catalogue). Every label value comes
// from a fixed set — descriptors, Connect code names, reason words of this code base, statement
// kinds — never from a request, a credential or an id.

const TRANSPORTS: ReadonlySet<string> = new Set(["connect", "grpc", "grpc-web", "grpc-js"]);

/** The `reason` words the auth step refuses with (auth/errors.ts callers); anything else is "other". */
const REFUSAL_REASONS: ReadonlySet<string> = new Set([
  "missing",
  "api_key_malformed",
  "api_key_unknown",
  "api_key_inactive",
  "api_key_expired",
  "api_key_scope",
  "claims",
  "expired",
  "issuer",
  "audience",
  "not_yet_valid",
  "token_type",
  "signature",
  "unknown_key",
  "malformed",
  "algorithm",
  "unsupported",
  "client_revoked",
  "user_inactive",
  "permission",
  "project",
]);

/** Connect code names (and "ok"): the results an audited call can have. */
const CODE_NAMES: ReadonlySet<string> = new Set([
  "ok",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
]);

const REFUSAL_STATUS: Readonly<Record<string, string>> = {
  [AuthCodes.Unauthenticated]: "unauthenticated",
  [AuthCodes.PermissionDenied]: "permission_denied",
  [AuthCodes.KeysUnavailable]: "unavailable",
};

interface Sources {
  /** Calls in flight now (the pipeline's count). */
  callsInFlight(): number;
}

export class ResourcesMetrics {
  readonly registry: Registry;
  private readonly calls: Counter<"service" | "method" | "transport" | "code">;
  private readonly callSeconds: Histogram<"service" | "method" | "transport">;
  private readonly refusals: Counter<"status" | "reason">;
  private readonly jwks: Counter<"result">;
  private readonly userStateHits: Counter;
  private readonly userStateMisses: Counter;
  private readonly querySeconds: Histogram<"kind" | "result">;
  private readonly auditEvents: Counter<"result" | "written">;
  /** prom-client hashes a label set on every inc(); a call's children are looked up once. */
  private readonly callChildren = new Map<DescMethod, Map<string, { count: Counter.Internal; seconds: Histogram.Internal<"service" | "method" | "transport"> }>>();
  private sources: Sources = { callsInFlight: () => 0 };
  private readonly pools = new Set<Sql>();
  private readonly unobserve: Array<() => void> = [];

  constructor() {
    const registry = createMetricsRegistry("resources");
    this.registry = registry;
    this.calls = new Counter({
      name: "altalune_rpc_calls_total",
      help: "Finished RPCs by service, method, transport and Connect code (overload refusals included).",
      labelNames: ["service", "method", "transport", "code"],
      registers: [registry],
    });
    this.callSeconds = new Histogram({
      name: "altalune_rpc_call_duration_seconds",
      help: "Duration of RPCs from admission to the answer (auth step, validation, handler).",
      labelNames: ["service", "method", "transport"],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
    const sources = () => this.sources;
    new Gauge({
      name: "altalune_rpc_calls_in_flight",
      help: "RPCs being served now, over both ports (bounded by MAX_CALLS_IN_FLIGHT).",
      registers: [registry],
      collect() {
        this.set(sources().callsInFlight());
      },
    });
    this.refusals = new Counter({
      name: "altalune_rpc_auth_refusals_total",
      help: "Calls the auth step refused, by status (unauthenticated, permission_denied, unavailable) and reason.",
      labelNames: ["status", "reason"],
      registers: [registry],
    });
    this.jwks = new Counter({
      name: "altalune_jwks_refreshes_total",
      help: "Fetches of the auth server's JWKS (first use, unknown kid, cache age), by result (ok, error).",
      labelNames: ["result"],
      registers: [registry],
    });
    this.userStateHits = new Counter({
      name: "altalune_user_state_cache_hits_total",
      help: "User-state lookups (is the token's user still active?) answered from the cache.",
      registers: [registry],
    });
    this.userStateMisses = new Counter({
      name: "altalune_user_state_cache_misses_total",
      help: "User-state lookups that went to the database (first call of a user, or TTL passed).",
      registers: [registry],
    });
    const pools = this.pools;
    const poolGauge = (name: string, help: string, read: (s: ReturnType<typeof poolStats>) => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          let total = 0;
          for (const sql of pools) total += read(poolStats(sql));
          this.set(total);
        },
      });
    poolGauge("altalune_db_pool_max", "Connections the pool may open (DB_POOL_MAX).", (s) => s.max);
    poolGauge("altalune_db_pool_in_use", "Pool permits held by a statement or transaction now (connections in use).", (s) => s.inUse);
    poolGauge("altalune_db_pool_idle", "Pool permits free now (DB_POOL_MAX minus in use): capacity left.", (s) => s.max - s.inUse);
    poolGauge("altalune_db_pool_waiting", "Statements and transactions waiting for a pool permit now.", (s) => s.waiting);
    this.querySeconds = new Histogram({
      name: "altalune_db_query_duration_seconds",
      help: "Duration of top-level statements by kind (first keyword) and of whole transactions (kind=transaction), by result (ok, error).",
      labelNames: ["kind", "result"],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
    this.auditEvents = new Counter({
      name: "altalune_audit_events_total",
      help: "Audited calls (mutations, secret reveals) by result (ok or the Connect code) and how their audit row was written: with_change (in the change's statement or transaction), separate (its own statement: reveals, refusals), no (anonymous refusals, database unavailable).",
      labelNames: ["result", "written"],
      registers: [registry],
    });
  }

  /** Where the in-flight gauge reads from (the server's pipeline, made after this object). */
  readFrom(sources: Sources): void {
    this.sources = sources;
  }

  /** Times the pool's statements and reads its gate at each scrape; stopped by close(). */
  watchPool(sql: Sql): void {
    this.pools.add(sql);
    const observer: QueryObserver = (kind: StatementKind, seconds, ok) => this.querySeconds.observe({ kind, result: ok ? "ok" : "error" }, seconds);
    this.unobserve.push(observePool(sql, observer));
  }

  readonly observeCall: CallObserver = (call, code, seconds) => {
    // Children found by method object, then transport and code (no key string built per call).
    let byMethod = this.callChildren.get(call.method);
    if (byMethod === undefined) this.callChildren.set(call.method, (byMethod = new Map()));
    const key = `${call.transport}\u0000${code}`;
    let child = byMethod.get(key);
    if (child === undefined) {
      const transport = bounded(call.transport, TRANSPORTS);
      const labels = { service: call.service.typeName, method: call.method.name, transport };
      child = { count: this.calls.labels({ ...labels, code }), seconds: this.callSeconds.labels(labels) };
      byMethod.set(key, child);
    }
    child.count.inc();
    // Overload refusals (no duration) are answered before any work: counted, not timed.
    if (seconds !== undefined) child.seconds.observe(seconds);
  };

  /** The auth step, counting what it refuses by the reason word it refuses with. */
  countRefusals(step: AuthStep): AuthStep {
    return async (call: CallInfo, request: Message, ctx: HandlerContext) => {
      try {
        await step(call, request, ctx);
      } catch (e) {
        const status = isAppError(e) ? REFUSAL_STATUS[e.code] : undefined;
        if (isAppError(e) && status !== undefined) {
          this.refusals.inc({ status, reason: status === "unavailable" ? "unavailable" : bounded(e.meta["reason"], REFUSAL_REASONS) });
        } else {
          this.refusals.inc({ status: "other", reason: "other" });
        }
        throw e;
      }
    };
  }

  readonly auditEvent = (result: string, written: AuditWrite): void => {
    this.auditEvents.inc({ result: bounded(result, CODE_NAMES), written });
  };

  readonly jwksFetched = (ok: boolean): void => {
    this.jwks.inc({ result: ok ? "ok" : "error" });
  };

  readonly userStateLookup = (hit: boolean): void => {
    (hit ? this.userStateHits : this.userStateMisses).inc();
  };

  close(): void {
    for (const stop of this.unobserve.splice(0)) stop();
    this.pools.clear();
  }
}
