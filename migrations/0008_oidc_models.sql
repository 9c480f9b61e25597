-- Storage of the authorization server (oidc-provider): one table for every model (sessions,
-- interactions, grants, authorization codes, access/refresh tokens, ...), as Logto does. For
-- every model the stored `id` is the SHA-256 (hex) of oidc-provider's id, and the payload never
-- holds the raw id, so a dump of this table yields no usable token, code or session.
-- client_id and account_id are copied out of the payload so that deleting a client or a user
-- can revoke everything issued to it with one indexed statement.
-- migrate:up
CREATE TABLE altalune_oidc_models (
  model       VARCHAR(40)  NOT NULL,
  id          VARCHAR(128) NOT NULL,
  payload     JSONB        NOT NULL,
  grant_id    VARCHAR(128),
  uid         VARCHAR(128),
  user_code   VARCHAR(128),
  client_id   VARCHAR(128),
  account_id  VARCHAR(128),
  expires_at  TIMESTAMPTZ,
  consumed_at TIMESTAMPTZ,
  created_at  TIMESTAMPTZ  NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (model, id)
);
CREATE INDEX ix_altalune_oidc_models_grant_id ON altalune_oidc_models (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX ix_altalune_oidc_models_uid ON altalune_oidc_models (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX ix_altalune_oidc_models_user_code ON altalune_oidc_models (model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX ix_altalune_oidc_models_client_id ON altalune_oidc_models (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX ix_altalune_oidc_models_account_id ON altalune_oidc_models (account_id) WHERE account_id IS NOT NULL;
CREATE INDEX ix_altalune_oidc_models_expires_at ON altalune_oidc_models (expires_at) WHERE expires_at IS NOT NULL;

-- migrate:down
DROP TABLE altalune_oidc_models;
