-- Sign-ins in flight at an upstream identity provider ("social login"): one row from the redirect
-- to the provider until its callback, bound to the Interaction of the browser that started it.
-- The state travels through the browser and the provider, so only its SHA-256 is kept (a dump
-- cannot forge a callback). The PKCE code verifier is sealed with AES-256-GCM under
-- ENCRYPTION_KEY (context "upstream_login:<state_hash>"): together with a code stolen from a
-- redirect it would complete the exchange. The nonce is not secret (it is in the authorization
-- URL and in the ID token). A row is used once: the callback sets consumed_at in the same
-- statement that checks it, so a replayed callback finds nothing to consume.
-- migrate:up
CREATE TABLE altalune_upstream_logins (
  state_hash           VARCHAR(64)  PRIMARY KEY,
  interaction_uid      VARCHAR(64)  NOT NULL,
  -- The provider's slug at the time (altalune_oauth_providers.slug); no FK: a provider deleted
  -- meanwhile makes the callback fail with a clear page, not the delete.
  slug                 VARCHAR(40)  NOT NULL,
  nonce                VARCHAR(128),
  code_verifier_sealed TEXT         NOT NULL,
  expires_at           TIMESTAMPTZ  NOT NULL,
  consumed_at          TIMESTAMPTZ,
  created_at           TIMESTAMPTZ  NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT chk_altalune_upstream_logins_state_hash CHECK (state_hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX ix_altalune_upstream_logins_expires_at ON altalune_upstream_logins (expires_at);

-- migrate:down
DROP TABLE altalune_upstream_logins;
