-- The audit log (docs/observability.md, "Audit log"): one row per call of a mutating RPC, written
-- in the transaction of its change; one per audited read (secret reveals); one per refused or
-- failed mutation of an authenticated caller; one per security event of the auth server.
--
-- Rows outlive what they describe: no foreign keys and no cascades; actors, targets and projects
-- are kept as the public ids (and words) of the moment. Nothing secret is ever written: no
-- secret, code, token or address; changed_fields holds field *names* only.
--
-- Partitioned by month on occurred_at, so retention (AUDIT_RETENTION_DAYS) drops whole months:
-- a DROP of one partition, not a DELETE of millions of rows. The partitions are named
-- altalune_audit_events_YYYYMM (UTC months); the Resources API's maintenance job
-- (packages/db/src/audit-partitions.ts) creates them ahead of time, and so does every
-- `migrate up`. There is no default partition on purpose: attaching a month to a table whose
-- default partition holds rows of that month fails, so a missing month must be created, not
-- absorbed.
-- migrate:up
CREATE SEQUENCE altalune_audit_events_id_seq AS BIGINT;

CREATE TABLE altalune_audit_events (
  id                BIGINT      NOT NULL DEFAULT nextval('altalune_audit_events_id_seq'),
  occurred_at       TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
  -- user, api_key, client (machine-to-machine OAuth client), anonymous, system.
  actor_type        TEXT        NOT NULL,
  -- A user's or API key's public id, an OAuth client's client_id; NULL for anonymous and system.
  actor_public_id   TEXT,
  -- `altalune.v1.RoleService/UpdateRole`, or an auth-server event such as `auth.login.failed`.
  action            TEXT        NOT NULL,
  target_type       TEXT,
  target_public_id  TEXT,
  project_public_id TEXT,
  -- 'ok', the Connect code's name of a refused or failed call, or an auth-server failure reason.
  result            TEXT        NOT NULL,
  request_id        TEXT,
  trace_id          TEXT,
  client_address    TEXT,
  user_agent        TEXT,
  -- JSON array of the request's field names that were set (never values).
  changed_fields    JSONB,
  -- Small JSON object of fixed words (auth-server events: method, reason, provider, client_id).
  details           JSONB,
  -- 'security' and what kind of security event it is ('secret_revealed', ...).
  tags              TEXT[]      NOT NULL DEFAULT '{}',
  CONSTRAINT chk_altalune_audit_events_actor_type CHECK (actor_type IN ('user', 'api_key', 'client', 'anonymous', 'system')),
  CONSTRAINT chk_altalune_audit_events_sizes CHECK (
    length(action) <= 200 AND length(result) <= 64 AND length(coalesce(actor_public_id, '')) <= 200
    AND length(coalesce(target_type, '')) <= 64 AND length(coalesce(target_public_id, '')) <= 200
    AND length(coalesce(project_public_id, '')) <= 64 AND length(coalesce(request_id, '')) <= 128
    AND length(coalesce(trace_id, '')) <= 32 AND length(coalesce(client_address, '')) <= 100
    AND length(coalesce(user_agent, '')) <= 512),
  -- The partition key must be part of the key; it also serves newest-first paging.
  PRIMARY KEY (occurred_at, id)
) PARTITION BY RANGE (occurred_at);

ALTER SEQUENCE altalune_audit_events_id_seq OWNED BY altalune_audit_events.id;

-- The filters of QueryAuditEvents, each with the time for newest-first pages. The list engine
-- compares lower(column) (filters are case-insensitive), so the indexes are on that expression.
CREATE INDEX ix_altalune_audit_events_actor ON altalune_audit_events (lower(actor_public_id), occurred_at DESC)
  WHERE actor_public_id IS NOT NULL;
CREATE INDEX ix_altalune_audit_events_target ON altalune_audit_events (lower(target_public_id), occurred_at DESC)
  WHERE target_public_id IS NOT NULL;
CREATE INDEX ix_altalune_audit_events_project ON altalune_audit_events (lower(project_public_id), occurred_at DESC)
  WHERE project_public_id IS NOT NULL;
CREATE INDEX ix_altalune_audit_events_action ON altalune_audit_events (lower(action), occurred_at DESC);
-- Refusals and failures are the rare rows worth finding; 'ok' is most of the table.
CREATE INDEX ix_altalune_audit_events_result ON altalune_audit_events (lower(result), occurred_at DESC)
  WHERE result <> 'ok';
CREATE INDEX ix_altalune_audit_events_tags ON altalune_audit_events USING gin (tags)
  WHERE tags <> '{}';

-- This month and the next three (the maintenance job keeps three months ahead).
DO $$
DECLARE
  m DATE;
BEGIN
  FOR i IN 0..3 LOOP
    m := (date_trunc('month', CURRENT_TIMESTAMP AT TIME ZONE 'UTC') + make_interval(months => i))::date;
    EXECUTE format(
      'CREATE TABLE IF NOT EXISTS %I PARTITION OF altalune_audit_events FOR VALUES FROM (%L) TO (%L)',
      'altalune_audit_events_' || to_char(m, 'YYYYMM'),
      m::text || ' 00:00:00+00',
      (m + interval '1 month')::date::text || ' 00:00:00+00');
  END LOOP;
END $$;

-- migrate:down
DROP TABLE altalune_audit_events;
