-- Login codes bound to the sign-in that asked for them, and a per-address budget of wrong guesses
-- (issue 11: account enumeration, lock-out by a third party, unbounded guessing).
--
-- binding_hash: HMAC of the Interaction uid (key derived from ENCRYPTION_KEY) that requested the
-- code. A code verifies only in that interaction, and a new request retires only the codes of
-- its own interaction, so another browser's requests cannot kill the owner's live code. Rows from
-- before this migration get '' and never verify (they expire within 5 minutes anyway).
--
-- user_id becomes optional: a request for an unknown address stores a code row too (with no
-- user, never mailed, never accepted), so wrong guesses against it are counted and answered
-- exactly like those against a known address.
--
-- altalune_login_code_failures: per address (HMAC of the address, same key), the times of the
-- recent wrong guesses from browsers that have not signed in to that address before; at 20 in a
-- rolling 24 hours further guesses from such browsers are refused. One row per address, locked
-- by the verify transaction, so concurrent guesses on different codes are counted exactly.
-- migrate:up
ALTER TABLE altalune_login_codes ADD COLUMN binding_hash VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE altalune_login_codes ALTER COLUMN binding_hash DROP DEFAULT;
ALTER TABLE altalune_login_codes ALTER COLUMN user_id DROP NOT NULL;
-- Verify reads the newest code of (address, interaction); request retires that pair's live codes.
CREATE INDEX ix_altalune_login_codes_email_binding ON altalune_login_codes (email, binding_hash, id DESC);

CREATE TABLE altalune_login_code_failures (
  email_hash VARCHAR(64)   PRIMARY KEY,
  -- Times of the wrong guesses still inside the window (oldest first, at most the cap).
  failed_at  TIMESTAMPTZ[] NOT NULL,
  -- When the newest recorded failure leaves the window: the row is useless after that.
  expires_at TIMESTAMPTZ   NOT NULL,
  CONSTRAINT chk_altalune_login_code_failures_email_hash CHECK (email_hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX ix_altalune_login_code_failures_expires_at ON altalune_login_code_failures (expires_at);

-- migrate:down
DROP TABLE altalune_login_code_failures;
DROP INDEX ix_altalune_login_codes_email_binding;
DELETE FROM altalune_login_codes WHERE user_id IS NULL;
ALTER TABLE altalune_login_codes ALTER COLUMN user_id SET NOT NULL;
ALTER TABLE altalune_login_codes DROP COLUMN binding_hash;
