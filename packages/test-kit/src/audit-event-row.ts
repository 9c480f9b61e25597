/**
 * A row of altalune_audit_events (migration 0019) as a test reads it back; both apps write the
 * table, and each test picks the columns it checks.
 */
export interface AuditEventRow {
  action: string;
  actor_type: string;
  actor_public_id: string | null;
  target_type: string | null;
  target_public_id: string | null;
  project_public_id: string | null;
  result: string;
  request_id: string;
  trace_id: string | null;
  client_address: string | null;
  user_agent: string | null;
  changed_fields: string[] | null;
  details: Record<string, string> | null;
  tags: string[];
}
