import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { AuditActorType } from "@altalune/core";
import { AuditEventSchema, type AuditEvent as AuditEventMessage } from "@altalune/proto";
import type { AuditEvent } from "./model.js";

export interface AuditEventRow {
  id: string;
  occurred_at: Date;
  actor_type: AuditActorType;
  actor_public_id: string | null;
  action: string;
  target_type: string | null;
  target_public_id: string | null;
  project_public_id: string | null;
  result: string;
  request_id: string | null;
  trace_id: string | null;
  client_address: string | null;
  user_agent: string | null;
  changed_fields: unknown;
  details: unknown;
  tags: string[];
}

export const auditEventColumns = [
  "id",
  "occurred_at",
  "actor_type",
  "actor_public_id",
  "action",
  "target_type",
  "target_public_id",
  "project_public_id",
  "result",
  "request_id",
  "trace_id",
  "client_address",
  "user_agent",
  "changed_fields",
  "details",
  "tags",
] as const;

// The writer (packages/db/src/audit-writer.ts) stores an array of names and an object of words;
// anything else in a row (written by hand) is shown as nothing rather than trusted.
function names(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function words(value: unknown): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === "string"));
}

export function auditEventFromRow(row: AuditEventRow): AuditEvent {
  return {
    id: String(row.id),
    occurredAt: row.occurred_at,
    actorType: row.actor_type,
    actorId: row.actor_public_id,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_public_id,
    projectId: row.project_public_id,
    result: row.result,
    requestId: row.request_id,
    traceId: row.trace_id,
    clientAddress: row.client_address,
    userAgent: row.user_agent,
    changedFields: names(row.changed_fields),
    details: words(row.details),
    tags: row.tags,
  };
}

export function auditEventToProto(e: AuditEvent): AuditEventMessage {
  return create(AuditEventSchema, {
    id: e.id,
    occurredAt: timestampFromDate(e.occurredAt),
    actorType: e.actorType,
    actorId: e.actorId ?? "",
    action: e.action,
    targetType: e.targetType ?? "",
    targetId: e.targetId ?? "",
    projectId: e.projectId ?? "",
    result: e.result,
    requestId: e.requestId ?? "",
    traceId: e.traceId ?? "",
    clientAddress: e.clientAddress ?? "",
    userAgent: e.userAgent ?? "",
    changedFields: e.changedFields,
    tags: e.tags,
    details: e.details,
  });
}
