-- Social login no longer links an upstream identity to an existing account because the upstream
-- asserted the same (verified) address: whoever configures a provider (provider:write) could
-- otherwise claim any address, the superadmin's included. An identity for an address that already
-- has an account is linked only when that account proves itself: signed in on the account page
-- (linked_by 'account_page'), or by an email-code sign-in right after the social callback offered
-- the link ('email_login', through altalune_pending_identity_links).
--
-- linked_by records how each identity came to its user:
--   registration  the identity created the user (first social sign-in, new address)
--   account_page  the signed-in user linked it from /account
--   email_login   offered at the social callback, confirmed after an email-code sign-in
--   seed          the seed's superadmin marker (provider 'system')
--   email_match   the old rule (same verified address); also what an insert that does not say
--                 gets, so an unstated origin is never mistaken for a confirmed one
-- Existing rows: the old code inserted a registering user and its identity in one transaction,
-- so both carry the same CURRENT_TIMESTAMP; any other identity of an existing user may have been
-- linked by the address alone and is 'email_match' (`altalune identities audit` lists them).
-- migrate:up
ALTER TABLE altalune_user_identities ADD COLUMN linked_by VARCHAR(20) NOT NULL DEFAULT 'email_match';
UPDATE altalune_user_identities i SET linked_by = CASE
    WHEN i.provider = 'system' THEN 'seed'
    WHEN i.created_at = u.created_at THEN 'registration'
    ELSE 'email_match' END
  FROM altalune_users u WHERE u.id = i.user_id;
ALTER TABLE altalune_user_identities ADD CONSTRAINT chk_altalune_user_identities_linked_by
  CHECK (linked_by IN ('registration', 'account_page', 'email_login', 'seed', 'email_match'));

-- A sign-in at an upstream provider started from the account page links the returned identity
-- to the signed-in user: such a row belongs to that user's login session (SHA-256 of the
-- session id), not to an Interaction.
--
-- The Interaction a sign-in row belongs to is no longer stored raw (a dump must not hold
-- interaction ids): its SHA-256 for the ownership check, and the uid sealed (AES-256-GCM, bound
-- to the row's state hash) for the redirect back into the flow. Rows live 15 minutes: the ones in
-- flight are dropped (those sign-ins start again).
DELETE FROM altalune_upstream_logins;
ALTER TABLE altalune_upstream_logins DROP COLUMN interaction_uid;
ALTER TABLE altalune_upstream_logins
  ADD COLUMN interaction_uid_hash   VARCHAR(64),
  ADD COLUMN interaction_uid_sealed TEXT,
  ADD COLUMN purpose           VARCHAR(10) NOT NULL DEFAULT 'login',
  ADD COLUMN link_user_id      BIGINT REFERENCES altalune_users (id) ON DELETE CASCADE,
  ADD COLUMN link_session_hash VARCHAR(64),
  ADD CONSTRAINT chk_altalune_upstream_logins_purpose CHECK (
    (purpose = 'login' AND interaction_uid_hash ~ '^[0-9a-f]{64}$' AND interaction_uid_sealed IS NOT NULL
       AND link_user_id IS NULL AND link_session_hash IS NULL)
    OR (purpose = 'link' AND interaction_uid_hash IS NULL AND interaction_uid_sealed IS NULL
       AND link_user_id IS NOT NULL AND link_session_hash ~ '^[0-9a-f]{64}$'));

-- An upstream identity offered for linking at the social callback (its address belongs to an
-- existing account), waiting for that account to sign in in the same browser and confirm. The
-- browser holds a random token (cookie); only its SHA-256 is kept. Single use, 15 minutes.
CREATE TABLE altalune_pending_identity_links (
  token_hash               VARCHAR(64)  PRIMARY KEY,
  user_id                  BIGINT       NOT NULL REFERENCES altalune_users (id) ON DELETE CASCADE,
  provider                 VARCHAR(50)  NOT NULL,
  provider_user_id         VARCHAR(255) NOT NULL,
  email                    VARCHAR(255) NOT NULL,
  first_name               VARCHAR(100) NOT NULL DEFAULT '',
  last_name                VARCHAR(100) NOT NULL DEFAULT '',
  oauth_client_id          UUID,
  origin_oauth_client_name VARCHAR(100),
  expires_at               TIMESTAMPTZ  NOT NULL,
  created_at               TIMESTAMPTZ  NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT chk_altalune_pending_identity_links_token_hash CHECK (token_hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX ix_altalune_pending_identity_links_expires_at ON altalune_pending_identity_links (expires_at);
CREATE INDEX ix_altalune_pending_identity_links_user_id ON altalune_pending_identity_links (user_id);

-- migrate:down
DROP TABLE altalune_pending_identity_links;
DELETE FROM altalune_upstream_logins;
ALTER TABLE altalune_upstream_logins
  DROP CONSTRAINT chk_altalune_upstream_logins_purpose,
  DROP COLUMN link_session_hash,
  DROP COLUMN link_user_id,
  DROP COLUMN purpose,
  DROP COLUMN interaction_uid_sealed,
  DROP COLUMN interaction_uid_hash,
  ADD COLUMN interaction_uid VARCHAR(64) NOT NULL;
ALTER TABLE altalune_user_identities DROP CONSTRAINT chk_altalune_user_identities_linked_by;
ALTER TABLE altalune_user_identities DROP COLUMN linked_by;
