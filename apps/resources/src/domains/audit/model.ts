import type { AuditActorType } from "@altalune/core";
import type { AuditRowTextColumns } from "@altalune/db";

/** One row of the audit log as QueryAuditEvents returns it (docs/observability.md, "Audit log"). */
export interface AuditEvent extends AuditRowTextColumns {
  /** The row id (int8, as text). */
  id: string;
  occurredAt: Date;
  actorType: AuditActorType;
  changedFields: string[];
  details: Record<string, string>;
  tags: string[];
}

/** The total of a query is counted up to this many events (the rest would be a scan of every match). */
export const AUDIT_COUNT_LIMIT = 10_000;

export const AUDIT_ACTOR_TYPES: readonly AuditActorType[] = ["user", "api_key", "client", "anonymous", "system"];

/** What a query may restrict besides the list engine's filters. */
export interface AuditQueryRange {
  /** At or after. */
  from?: Date | undefined;
  /** Before. */
  to?: Date | undefined;
  /** Any of these tags. */
  tags?: readonly string[] | undefined;
}
