import { traceLogFields } from "./tracing.js";

// One row of the audit log (table altalune_audit_events, docs/observability.md "Audit log"), as
// both apps write it: the Resources API for its RPCs (packages/rpc/src/call-audit.ts), the auth
// server for its security events. The writer is packages/db/src/audit-writer.ts.

/** Who acted: a user, a project API key, a machine-to-machine OAuth client, nobody known yet, or the system itself. */
export type AuditActorType = "user" | "api_key" | "client" | "anonymous" | "system";

export interface AuditEventRecord {
  actorType: AuditActorType;
  /** The user's or API key's public id, the OAuth client's client_id; none for anonymous and system. */
  actorId?: string | undefined;
  /** `altalune.v1.RoleService/UpdateRole`, or an auth-server event (`auth.login.failed`). */
  action: string;
  targetType?: string | undefined;
  targetId?: string | undefined;
  /** The project's public id, when the event happened in one. */
  projectId?: string | undefined;
  /** "ok", the Connect code's name of a refused or failed call, or an auth-server failure reason. */
  result: string;
  requestId?: string | undefined;
  traceId?: string | undefined;
  clientAddress?: string | undefined;
  userAgent?: string | undefined;
  /** Names of the request's fields that were set: never their values. */
  changedFields?: readonly string[] | undefined;
  /** Fixed words about the event (method, reason, provider, client_id): never a secret, code, token or address. */
  details?: Readonly<Record<string, string>> | undefined;
  /** "security" and what kind of security event it is ("secret_revealed", ...). */
  tags?: readonly string[] | undefined;
  /** Default: the database's clock when the row is written. */
  occurredAt?: Date | undefined;
}

/** Tag of every event that is also a security event; the kind follows as a second tag. */
export const SECURITY_TAG = "security";

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The trace id an audit row records: the active span's, or (tracing off) the one the request's
 * `traceparent` names, so rows can still be matched with the caller's traces.
 */
export function auditTraceId(traceparent: string | null | undefined): string | undefined {
  const active = traceLogFields()["trace_id"];
  if (active !== undefined) return active;
  return TRACEPARENT.exec(traceparent?.trim() ?? "")?.[1];
}
