import { auditTraceId, SECURITY_TAG, type AuditEventRecord, type Logger } from "@altalune/core";
import { writeAuditEvent, type Queryable } from "@altalune/db";

// The auth server's security events in the audit log (docs/observability.md, "Audit log"): one
// row per event, through the same writer and row type as the Resources API's RPC rows. A row
// names who and what by public ids and fixed words: never a code, token, secret or address.

/** Where a request came from: Koa's context (ctx.ip follows TRUSTED_PROXY_HOPS), or oidc-provider's. */
export interface RequestOrigin {
  readonly ip: string;
  get(field: string): string;
}

/** One security event; `result` "ok" unless it is a failure (then its reason word). */
export type SecurityEvent = Omit<AuditEventRecord, "result" | "requestId" | "traceId" | "clientAddress" | "userAgent" | "occurredAt"> & {
  action: `auth.${string}`;
  result?: string;
};

/** The record of an event as it happened in a request (or with no request: the CLI). */
export function securityRecord(origin: RequestOrigin | undefined, event: SecurityEvent): AuditEventRecord {
  const tags = event.tags === undefined || event.tags.length === 0 ? [SECURITY_TAG] : [...new Set([SECURITY_TAG, ...event.tags])];
  return {
    ...event,
    result: event.result ?? "ok",
    tags,
    ...(origin === undefined
      ? {}
      : { clientAddress: origin.ip || undefined, userAgent: origin.get("user-agent") || undefined, traceId: auditTraceId(origin.get("traceparent")) }),
  };
}

/** Counts anonymous events per client address (the auth server's RateLimiter). */
export interface AnonymousEventBudget {
  hit(bucket: string, key: string, limit: number, windowSeconds: number): Promise<{ allowed: boolean }>;
}

/**
 * Anonymous events that no other limit bounds (failed sign-ins through an upstream provider) a
 * client address may have written per window: a year-long row must not be something anyone can
 * make at will. Beyond it they are counted in metrics only. Events other limits already bound
 * (codes sent, wrong codes that used an attempt: the login-code limits) do not draw on it, so
 * spending it cannot hide a guesser's attempts.
 */
export const ANONYMOUS_EVENTS_PER_ADDRESS = { limit: 100, windowSeconds: 15 * 60 } as const;

/** Writes the auth server's events. */
export class SecurityAudit {
  constructor(
    private readonly sql: Queryable,
    private readonly logger: Pick<Logger, "warn">,
    private readonly anonymousBudget?: AnonymousEventBudget,
  ) {}

  /**
   * Writes the event after the flow did what it describes. A row that cannot be written (the
   * database is away, when the flow itself has just worked) is logged, not turned into a failed
   * sign-in: the flow's outcome stands, as its own log line records it.
   */
  async record(origin: RequestOrigin | undefined, event: SecurityEvent, opts: { unbounded?: boolean } = {}): Promise<void> {
    try {
      // `unbounded`: an anonymous event nothing else limits (see ANONYMOUS_EVENTS_PER_ADDRESS).
      if (opts.unbounded === true && event.actorType === "anonymous" && origin !== undefined && this.anonymousBudget !== undefined) {
        const { limit, windowSeconds } = ANONYMOUS_EVENTS_PER_ADDRESS;
        if (!(await this.anonymousBudget.hit("audit:anonymous", origin.ip, limit, windowSeconds)).allowed) return;
      }
      await writeAuditEvent(this.sql, securityRecord(origin, event));
    } catch (e) {
      this.logger.warn({ err: e, action: event.action }, "an auth-server audit event could not be written");
    }
  }
}

/** What oidc-provider's grant.error hands its listeners (the parts read here). */
interface GrantErrorContext extends RequestOrigin {
  oidc?: {
    params?: Record<string, unknown>;
    client?: { clientId: string };
    entities?: { RefreshToken?: { accountId?: string; clientId?: string } };
  };
}

interface EventSource {
  on(event: "grant.error", listener: (ctx: GrantErrorContext, err: unknown) => void): unknown;
}

/**
 * oidc-provider's refresh_token grant revokes the whole grant when a rotated refresh token is
 * presented again (past the leeway): a stolen token was probably used. The event is written
 * without holding up the answer (the provider does not wait for listeners).
 */
export function auditProviderEvents<P extends EventSource>(provider: P, audit: SecurityAudit): P {
  provider.on("grant.error", (ctx, err) => {
    if (ctx.oidc?.params?.["grant_type"] !== "refresh_token") return;
    if ((err as { error_detail?: unknown }).error_detail !== "refresh token already used") return;
    const token = ctx.oidc.entities?.RefreshToken;
    const clientId = token?.clientId ?? ctx.oidc.client?.clientId;
    void audit.record(ctx, {
      action: "auth.refresh_token.reused",
      actorType: clientId === undefined ? "anonymous" : "client",
      actorId: clientId,
      ...(token?.accountId === undefined ? {} : { targetType: "user", targetId: token.accountId }),
      result: "grant_revoked",
      details: { ...(clientId === undefined ? {} : { client_id: clientId }), grant: "revoked" },
      tags: ["grant_revoked"],
    });
  });
  return provider;
}
