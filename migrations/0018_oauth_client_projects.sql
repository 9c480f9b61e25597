-- Projects a machine-to-machine (client_credentials) OAuth client may act in: its access tokens
-- carry these projects' public ids in `projects`, and project-scoped RPCs accept such a token only
-- for them (docs/authorization.md). Managed through OAuthClientService (project_ids); deleting the
-- client or the project removes the row. Empty = none.
-- migrate:up
CREATE TABLE altalune_oauth_client_projects (
  client_id   BIGINT      NOT NULL REFERENCES altalune_oauth_clients (id) ON DELETE CASCADE,
  project_id  BIGINT      NOT NULL REFERENCES altalune_projects (id) ON DELETE CASCADE,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (client_id, project_id)
);
CREATE INDEX ix_altalune_oauth_client_projects_project ON altalune_oauth_client_projects (project_id);

-- migrate:down
DROP TABLE altalune_oauth_client_projects;
