import { defineListSpec, runListQuery, type ListQuery, type ListResult, type Sql, type SqlFragment } from "@altalune/db";
import { auditEventColumns, auditEventFromRow, type AuditEventRow } from "./mapper.js";
import { AUDIT_ACTOR_TYPES, AUDIT_COUNT_LIMIT, type AuditEvent, type AuditQueryRange } from "./model.js";
import { orderedBy } from "../../shared/table-reads.js";

const RESULTS = [
  "ok",
  "InvalidArgument",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "FailedPrecondition",
  "Aborted",
  "ResourceExhausted",
  "DeadlineExceeded",
  "Canceled",
  "Internal",
];

/** Filter keys as the proto documents them (snake_case), with camelCase aliases like the other lists. */
export const auditListSpec = defineListSpec({
  from: "altalune_audit_events",
  columns: auditEventColumns,
  // A substring search is a scan of the matching time range; the filters are indexed.
  searchable: ["action", "actor_public_id", "target_public_id"],
  filters: {
    actor_type: { column: "actor_type" },
    actorType: { column: "actor_type" },
    actor_id: { column: "actor_public_id" },
    actorId: { column: "actor_public_id" },
    action: { column: "action" },
    target_type: { column: "target_type" },
    targetType: { column: "target_type" },
    target_id: { column: "target_public_id" },
    targetId: { column: "target_public_id" },
    project_id: { column: "project_public_id" },
    projectId: { column: "project_public_id" },
    result: { column: "result" },
  },
  // Newest first, always: the primary key (occurred_at, id) read backwards.
  sortable: { occurredAt: "occurred_at" },
  ...orderedBy("occurred_at", "desc"),
  catalog: {
    actor_type: { values: AUDIT_ACTOR_TYPES },
    result: { values: RESULTS },
  },
});

export class AuditRepo {
  constructor(private readonly sql: Sql) {}

  /** `query.sort` is not used: events come newest first. */
  async query(query: ListQuery, range: AuditQueryRange = {}): Promise<ListResult<AuditEvent>> {
    const sql = this.sql;
    const conditions: SqlFragment[] = [];
    if (range.from !== undefined) conditions.push(sql`occurred_at >= ${range.from}`);
    if (range.to !== undefined) conditions.push(sql`occurred_at < ${range.to}`);
    const tags = [...new Set((range.tags ?? []).map((t) => t.trim().toLowerCase()).filter((t) => t !== ""))];
    if (tags.length > 0) conditions.push(sql`tags && ${tags}::text[]`);
    const { sort: _sort, ...newestFirst } = query;
    const result = await runListQuery<AuditEventRow>(sql, auditListSpec, newestFirst, { conditions, countLimit: AUDIT_COUNT_LIMIT });
    return { ...result, rows: result.rows.map(auditEventFromRow) };
  }
}
