import type { AuditEventRecord } from "@altalune/core";
import type { SqlFragment } from "./list-query.js";
import type { Queryable } from "./pool.js";

// The one writer of the audit log (table altalune_audit_events, migration 0019), for both apps.
// Every value is bound (JSON as text cast to jsonb: a jsonb parameter would be JSON-encoded again), clamped to the table's CHECK sizes (an over-long user agent must not
// fail the change it describes) and stripped of NUL, which a text column cannot hold.

export const AUDIT_EVENTS_TABLE = "altalune_audit_events";

const LIMITS = {
  action: 200,
  result: 64,
  actorId: 200,
  targetType: 64,
  targetId: 200,
  projectId: 64,
  requestId: 128,
  traceId: 32,
  clientAddress: 100,
  userAgent: 512,
  /** Field names, tags and detail entries kept per event, and the length of each. */
  items: 64,
  word: 200,
} as const;

function clamp(value: string | undefined, max: number): string | null {
  if (value === undefined || value === "") return null;
  // A JS slice never exceeds PostgreSQL's length in characters (a surrogate pair is one there).
  return value.replaceAll("\0", "").slice(0, max);
}

function words(values: readonly string[] | undefined): string[] {
  return [...new Set((values ?? []).map((v) => clamp(v, LIMITS.word)).filter((v): v is string => v !== null))].slice(0, LIMITS.items);
}

function detailsJson(details: Readonly<Record<string, string>> | undefined): string | null {
  if (details === undefined) return null;
  const entries = Object.entries(details)
    .slice(0, LIMITS.items)
    .map(([k, v]) => [clamp(k, LIMITS.word), clamp(v, LIMITS.word)] as const)
    .filter((e): e is readonly [string, string] => e[0] !== null && e[1] !== null);
  return entries.length === 0 ? null : JSON.stringify(Object.fromEntries(entries));
}

/** The columns of an audit row that are written, and read back (QueryAuditEvents), as they are. */
export interface AuditRowTextColumns {
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  projectId: string | null;
  result: string;
  requestId: string | null;
  traceId: string | null;
  clientAddress: string | null;
  userAgent: string | null;
}

interface BoundValues extends AuditRowTextColumns {
  occurredAt: Date | null;
  actorType: string;
  changedFields: string | null;
  details: string | null;
  tags: string[];
}

function bound(r: AuditEventRecord): BoundValues {
  return {
    occurredAt: r.occurredAt ?? null,
    actorType: r.actorType,
    actorId: clamp(r.actorId, LIMITS.actorId),
    action: clamp(r.action, LIMITS.action) ?? "unknown",
    targetType: clamp(r.targetType, LIMITS.targetType),
    targetId: clamp(r.targetId, LIMITS.targetId),
    projectId: clamp(r.projectId, LIMITS.projectId),
    result: clamp(r.result, LIMITS.result) ?? "unknown",
    requestId: clamp(r.requestId, LIMITS.requestId),
    traceId: clamp(r.traceId, LIMITS.traceId),
    clientAddress: clamp(r.clientAddress, LIMITS.clientAddress),
    userAgent: clamp(r.userAgent, LIMITS.userAgent),
    changedFields: r.changedFields === undefined ? null : JSON.stringify(words(r.changedFields)),
    details: detailsJson(r.details),
    tags: words(r.tags),
  };
}

// Written out (not postgres.js' column helper, whose meaning depends on the keyword before it).
const COLUMNS = `occurred_at, actor_type, actor_public_id, action, target_type, target_public_id, project_public_id,
  result, request_id, trace_id, client_address, user_agent, changed_fields, details, tags`;

/** The select list of one event; `target` (and the project of a project event) may come from SQL. */
function selectList(q: Queryable, v: BoundValues, target: SqlFragment | undefined): SqlFragment {
  const targetId = target ?? q`${v.targetId}::text`;
  const projectId = target !== undefined && v.projectId === null && v.targetType === "project" ? target : q`${v.projectId}::text`;
  return q`
    coalesce(${v.occurredAt}::timestamptz, CURRENT_TIMESTAMP), ${v.actorType}::text, ${v.actorId}::text, ${v.action}::text,
    ${v.targetType}::text, ${targetId}, ${projectId}, ${v.result}::text, ${v.requestId}::text, ${v.traceId}::text,
    ${v.clientAddress}::text, ${v.userAgent}::text, ${v.changedFields}::text::jsonb, ${v.details}::text::jsonb, ${v.tags}::text[]`;
}

/** Writes one event in its own statement (or in the transaction `q` is). */
export async function writeAuditEvent(q: Queryable, record: AuditEventRecord): Promise<void> {
  await q`insert into altalune_audit_events (${q.unsafe(COLUMNS)}) select ${selectList(q, bound(record), undefined)}`;
}

/**
 * The event as the last part of a data-modifying statement `written` (a CTE of the same
 * statement): one row when `written` returned any, none otherwise; the target's id (and the
 * project, for an event about a project) read from `written`'s column `targetColumn`.
 */
export function auditInsertAfter(q: Queryable, record: AuditEventRecord, written: string, targetColumn: string | undefined): SqlFragment {
  const target = targetColumn === undefined ? undefined : q`(select w.${q(targetColumn)}::text from ${q(written)} w limit 1)`;
  return q`
    insert into altalune_audit_events (${q.unsafe(COLUMNS)})
    select ${selectList(q, bound(record), target)}
    where exists (select 1 from ${q(written)})`;
}
