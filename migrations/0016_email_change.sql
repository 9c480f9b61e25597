-- Email changes through UpdateUser are confirmed by the new address before they take effect
-- (docs/users.md). Until then the new address is the user's pending_email and signs nothing in.
-- The confirmation link is a row of altalune_email_verification_tokens (one token mechanism for
-- both kinds of link, told apart by purpose). The mails go through an outbox the Resources API
-- writes in the transaction that records the change, so they are sent whether or not the process
-- that took the request can mail: the auth server polls it.
-- migrate:up
-- pending_email_ceiling: the permission keys of whoever requested the change (NULL: root). A
-- confirmation is refused once the user holds more than that (promoted meanwhile): the requester
-- could not have changed the address of the account as it is now.
ALTER TABLE altalune_users
  ADD COLUMN pending_email VARCHAR(255),
  ADD COLUMN pending_email_ceiling TEXT[],
  ADD CONSTRAINT chk_altalune_users_pending_email_lower CHECK (pending_email = lower(pending_email));

ALTER TABLE altalune_email_verification_tokens
  ADD COLUMN purpose VARCHAR(16) NOT NULL DEFAULT 'verify',
  ADD CONSTRAINT chk_altalune_email_verification_tokens_purpose CHECK (purpose IN ('verify', 'email_change'));
-- A new link retires the user's older live links of the same purpose.
DROP INDEX ix_altalune_email_verification_tokens_user_id;
CREATE INDEX ix_altalune_email_verification_tokens_user_id ON altalune_email_verification_tokens (user_id, purpose) WHERE used_at IS NULL;

-- At most one unsent change per user: a newer request replaces the row.
CREATE TABLE altalune_email_change_outbox (
  user_id         BIGINT       PRIMARY KEY REFERENCES altalune_users (id) ON DELETE CASCADE,
  -- The confirmed address when the change was requested: it gets the notice.
  old_email       VARCHAR(255) NOT NULL,
  -- The requested address: it gets the link. Sent only while it is still the user's pending_email.
  new_email       VARCHAR(255) NOT NULL,
  -- New for every request (a replacing upsert takes excluded's): a sender deletes only the
  -- request it mailed, never a newer one that replaced it meanwhile.
  request_id      UUID         NOT NULL DEFAULT gen_random_uuid(),
  -- A sender claims the row by moving next_attempt_at past its send (a lease: a sender that
  -- died is replaced when it runs out); failed sends back off the same way. The row stays until
  -- the mails are out or the change is gone.
  attempts        INTEGER      NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMPTZ  NOT NULL DEFAULT CURRENT_TIMESTAMP,
  created_at      TIMESTAMPTZ  NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX ix_altalune_email_change_outbox_next_attempt_at ON altalune_email_change_outbox (next_attempt_at);

-- migrate:down
DROP TABLE altalune_email_change_outbox;
DROP INDEX ix_altalune_email_verification_tokens_user_id;
DELETE FROM altalune_email_verification_tokens WHERE purpose <> 'verify';
ALTER TABLE altalune_email_verification_tokens DROP COLUMN purpose;
CREATE INDEX ix_altalune_email_verification_tokens_user_id ON altalune_email_verification_tokens (user_id) WHERE used_at IS NULL;
ALTER TABLE altalune_users DROP COLUMN pending_email_ceiling, DROP COLUMN pending_email;
