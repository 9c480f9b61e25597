import { randomBytes } from "node:crypto";
import { importJWK, SignJWT } from "jose";
import type { Config } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { accessTokenClaims, findUserByEmail, loadAuthorization } from "./accounts.js";
import { keyRetentionSeconds } from "./configuration.js";
import { ensureSigningKey, loadKeySet } from "./signing-keys.js";

/** `client_id` of tokens minted by the operator's CLI rather than through an OAuth client. */
export const CLI_CLIENT_ID = "altalune-cli";
const CLI_SCOPE = "openid profile email";

export interface IssuedToken {
  token: string;
  userPublicId: string;
  kid: string;
  expiresAt: Date;
}

/** "15m", "2h", "900s", "900" → seconds (at most one day, like ACCESS_TOKEN_TTL). */
export function parseTtl(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) throw new Error(`--ttl must look like 900, 900s, 15m, 2h or 1d, got "${text}"`);
  const seconds = Number(m[1]) * ({ "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] ?? ""] ?? 1);
  if (seconds < 1 || seconds > 86_400) throw new Error("--ttl must be between 1 second and 1 day");
  return seconds;
}

/**
 * An access token for a user, as the provider would issue it to a client for the API: same
 * signing key (the current one from the database), same claims (accounts.ts), same header
 * (typ at+jwt, kid). For operators and scripts: `altalune token issue --email …`.
 */
export async function issueAccessToken(opts: { sql: Sql; config: Config; email: string; ttlSeconds?: number }): Promise<IssuedToken> {
  const { sql, config } = opts;
  const encryptionKey = config.encryptionKey;
  if (encryptionKey === undefined) throw new Error("ENCRYPTION_KEY is required to sign tokens");
  const user = await findUserByEmail(sql, opts.email);
  if (!user) throw new Error(`no user with email ${opts.email}`);
  if (!user.isActive) throw new Error(`user ${opts.email} is not active`);
  await ensureSigningKey(sql, encryptionKey);
  const { signer } = await loadKeySet(sql, encryptionKey, keyRetentionSeconds(config));
  const ttl = opts.ttlSeconds ?? config.auth.accessTokenTtlSeconds;
  // A rotated-out key stays published only as long as the provider's own tokens can live.
  const longest = keyRetentionSeconds(config) - 60;
  if (ttl > longest) throw new Error(`--ttl must be at most ${longest} seconds (the longest token lifetime of this server)`);
  const now = Math.floor(Date.now() / 1000);
  const authz = await loadAuthorization(sql, user.publicId);
  const scopes = new Set(CLI_SCOPE.split(" "));
  const token = await new SignJWT({ ...accessTokenClaims(user, authz, scopes), scope: CLI_SCOPE, client_id: CLI_CLIENT_ID })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: "at+jwt" })
    .setIssuer(config.auth.issuer)
    .setAudience(config.auth.apiAudience)
    .setSubject(user.publicId)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .setJti(randomBytes(16).toString("base64url"))
    .sign(await importJWK(signer.privateJwk, signer.alg));
  return { token, userPublicId: user.publicId, kid: signer.kid, expiresAt: new Date((now + ttl) * 1000) };
}
