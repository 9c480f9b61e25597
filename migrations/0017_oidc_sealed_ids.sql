-- Issue 11: the ids oidc-provider keeps inside payloads (a session's uid and grant ids, a code's
-- or refresh token's grant id and session uid, an interaction's resume URL, ...) are now sealed
-- by the auth server (apps/auth/src/provider/stored-ids.ts), which marks every payload it writes
-- with "sealedIds". Rows written before hold them raw and cannot be sealed here (the key is
-- derived from ENCRYPTION_KEY, which the database never sees): they are deleted. Effect: every
-- user signs in again once (sessions, refresh tokens, codes and interactions in flight go).
-- Grants are kept — their payload holds no other model's id — so remembered consent survives.
-- The auth server also reads such a row as absent, should an old replica write one meanwhile.
-- migrate:up
DELETE FROM altalune_oidc_models
WHERE model IN ('Session', 'Interaction', 'AuthorizationCode', 'RefreshToken', 'AccessToken', 'DeviceCode',
                'BackchannelAuthenticationRequest')
  AND NOT (payload ? 'sealedIds');

-- migrate:down
-- Nothing to restore: the deleted rows were sign-ins, which users redo.
SELECT 1;
