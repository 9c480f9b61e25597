import { createRemoteJWKSet, customFetch, errors, jwtVerify, type FetchImplementation, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { BoundedCache, systemClock, tracedFetch, type AppError, type Clock } from "@altalune/core";
import { authUnavailable, unauthenticated } from "./errors.js";

/** What the Resources API takes from a verified access token: a user's, or a machine client's. */
export type AccessTokenClaims = UserTokenClaims | ClientTokenClaims;

/** `principal: "user"` (or no `principal` claim: tokens issued before the claim existed, the CLI's). */
export interface UserTokenClaims {
  readonly principal: "user";
  /** `sub` of the access token: the user's public id. */
  readonly userPublicId: string;
  /** OAuth client the token was issued to (`client_id`/`azp`), when the token says. */
  readonly clientId: string | undefined;
  readonly permissions: ReadonlySet<string>;
  /** project public id → project role. */
  readonly memberships: ReadonlyMap<string, string>;
  readonly emailVerified: boolean;
  /** Present when the token was issued with the `email` / `profile` scope. */
  readonly email: string | undefined;
  readonly name: string | undefined;
  /** `exp` in epoch milliseconds. */
  readonly expiresAt: number;
}

/** `principal: "client"`: a client_credentials token; `sub` = `client_id` = the client. */
export interface ClientTokenClaims {
  readonly principal: "client";
  /** `sub` and `client_id` of the token. */
  readonly clientId: string;
  /** The API scopes an administrator granted the client (never root). */
  readonly permissions: ReadonlySet<string>;
  /** Public ids of the projects the client was given; project-scoped rules accept only these. */
  readonly projects: ReadonlySet<string>;
  readonly expiresAt: number;
}

export interface AccessTokenVerifierOptions {
  /** `iss` every token must carry; also where the JWKS is discovered when `jwksUrl` is unset. */
  issuer: string;
  /** Must be one of the token's `aud` values. */
  audience: string;
  jwksUrl?: string | undefined;
  /** Keys held in this process (the auth server verifying its own tokens); replaces the JWKS fetch. */
  localKeys?: () => JWTVerifyGetKey;
  /** Least time between two JWKS fetches caused by unknown `kid`s (and between failed discoveries). */
  cooldownMs?: number;
  /** A JWKS older than this is fetched again on the next call. */
  cacheMaxAgeMs?: number;
  timeoutMs?: number;
  clockToleranceSeconds?: number;
  /** Verified tokens kept in memory (oldest dropped first). */
  maxCachedTokens?: number;
  clock?: Clock;
  /** Told of each JWKS fetch and whether it answered 2xx (metrics). */
  onJwksFetch?: (ok: boolean) => void;
}

type KeySet = JWTVerifyGetKey;

const ALGORITHMS = ["RS256", "ES256"];

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

const malformed = () => unauthenticated("access token claims are malformed", "claims");

function clientClaimsOf(payload: JWTPayload, sub: string, exp: number): ClientTokenClaims {
  const perms = payload["perms"] ?? [];
  const projects = payload["projects"] ?? [];
  // A client token names the client twice; a mismatch is not a token this server issued.
  if (!isStringArray(perms) || !isStringArray(projects) || payload["client_id"] !== sub) throw malformed();
  return { principal: "client", clientId: sub, permissions: new Set(perms), projects: new Set(projects), expiresAt: exp * 1000 };
}

function claimsOf(payload: JWTPayload): AccessTokenClaims {
  const { sub, exp } = payload;
  if (typeof sub !== "string" || sub === "" || typeof exp !== "number") throw malformed();
  const principal = payload["principal"] ?? "user";
  if (principal === "client") return clientClaimsOf(payload, sub, exp);
  if (principal !== "user") throw malformed();
  const perms = payload["perms"] ?? [];
  const memberships = payload["memberships"] ?? {};
  const emailVerified = payload["email_verified"] ?? false;
  const clientId = payload["client_id"] ?? payload["azp"];
  const email = payload["email"];
  const name = payload["name"];
  const membershipsOk =
    typeof memberships === "object" && memberships !== null && !Array.isArray(memberships) &&
    Object.values(memberships).every((r) => typeof r === "string");
  if (
    !isStringArray(perms) || !membershipsOk ||
    typeof emailVerified !== "boolean" || (clientId !== undefined && typeof clientId !== "string") ||
    (email !== undefined && typeof email !== "string") || (name !== undefined && typeof name !== "string")
  ) {
    throw malformed();
  }
  return {
    principal: "user",
    userPublicId: sub,
    clientId,
    permissions: new Set(perms),
    memberships: new Map(Object.entries(memberships as Record<string, string>)),
    emailVerified,
    email,
    name,
    expiresAt: exp * 1000,
  };
}

function fromJoseError(e: unknown): AppError {
  if (e instanceof errors.JWTExpired) return unauthenticated("access token expired", "expired");
  if (e instanceof errors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case "iss":
        return unauthenticated("access token issuer is not trusted", "issuer");
      case "aud":
        return unauthenticated("access token is not meant for this API", "audience");
      case "nbf":
        return unauthenticated("access token is not valid yet", "not_yet_valid");
      case "typ":
        return unauthenticated("not an access token (typ must be at+jwt)", "token_type");
      default:
        return unauthenticated(`access token claim ${e.claim} is invalid`, "claims");
    }
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return unauthenticated("access token signature is invalid", "signature");
  if (e instanceof errors.JWKSNoMatchingKey) return unauthenticated("access token is signed by an unknown key", "unknown_key");
  // No `kid` while several keys of its algorithm are published (e.g. during a rotation).
  if (e instanceof errors.JWKSMultipleMatchingKeys) return unauthenticated("access token must name its signing key (kid)", "malformed");
  if (e instanceof errors.JOSEAlgNotAllowed) return unauthenticated("access token algorithm is not allowed", "algorithm");
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return unauthenticated("access token is malformed", "malformed");
  if (e instanceof errors.JOSENotSupported) return unauthenticated("access token uses an unsupported feature", "unsupported");
  // JWKS timeouts, unreachable or broken key endpoints: not the caller's fault.
  return authUnavailable("the authorization server's signing keys cannot be fetched", e);
}

/**
 * Verifies JWT access tokens from the auth server: signature against its JWKS (RS256/ES256), `typ`
 * at+jwt (so an ID token is never taken for an access token), `iss`, `aud`, `exp`/`nbf` with a
 * small tolerance. The JWKS is discovered and fetched lazily; jose's remote key set refetches on an
 * unknown `kid` at most once per cooldown. A verified token's claims are remembered until it
 * expires, so a warm call costs one map lookup.
 */
export class AccessTokenVerifier {
  private keySetPromise: Promise<KeySet> | undefined;
  private lastDiscoveryFailure = Number.NEGATIVE_INFINITY;
  /**
   * Claims are served until the clock reaches the token's `exp` (the entry's `until`), exactly as
   * jose would refuse it from then on; an evicted token is only verified again.
   */
  private readonly verified: BoundedCache<string, AccessTokenClaims>;
  private readonly clock: Clock;

  constructor(private readonly opts: AccessTokenVerifierOptions) {
    this.clock = opts.clock ?? systemClock;
    this.verified = new BoundedCache({ maxEntries: opts.maxCachedTokens ?? 10_000, clock: opts.clock });
  }

  async verify(token: string): Promise<AccessTokenClaims> {
    const known = this.verified.get(token);
    if (known !== undefined) return known.value;
    const keys = await this.keySet();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        algorithms: ALGORITHMS,
        typ: "at+jwt",
        clockTolerance: this.opts.clockToleranceSeconds ?? 5,
        requiredClaims: ["exp", "sub"],
        currentDate: this.clock(),
      }));
    } catch (e) {
      throw fromJoseError(e);
    }
    const claims = claimsOf(payload);
    this.remember(token, claims);
    return claims;
  }

  /** Forgets cached verifications (tests; a key compromise response). */
  clear(): void {
    this.verified.clear();
  }

  private remember(token: string, claims: AccessTokenClaims): void {
    // Full: expired tokens go first; if none has expired, the one stored longest ago.
    if (this.verified.size >= this.verified.maxEntries) this.verified.purgeStale();
    this.verified.set(token, claims, new Date(claims.expiresAt));
  }

  private keySet(): Promise<KeySet> {
    if (this.opts.localKeys !== undefined) return Promise.resolve(this.opts.localKeys());
    this.keySetPromise ??= this.resolveKeySet().catch((e: unknown) => {
      this.keySetPromise = undefined;
      throw e;
    });
    return this.keySetPromise;
  }

  private async resolveKeySet(): Promise<KeySet> {
    const url = this.opts.jwksUrl ?? (await this.discoverJwksUrl());
    const observe = this.opts.onJwksFetch;
    return createRemoteJWKSet(new URL(url), {
      cooldownDuration: this.opts.cooldownMs ?? 30_000,
      cacheMaxAge: this.opts.cacheMaxAgeMs ?? 600_000,
      timeoutDuration: this.opts.timeoutMs ?? 5_000,
      [customFetch]: jwksFetch(observe),
    });
  }

  private async discoverJwksUrl(): Promise<string> {
    // A down auth server must not turn every call into a discovery request.
    if (this.clock().getTime() - this.lastDiscoveryFailure < (this.opts.cooldownMs ?? 30_000)) {
      throw authUnavailable("the authorization server's discovery document is unavailable (retrying later)");
    }
    const url = `${this.opts.issuer}/.well-known/openid-configuration`;
    try {
      const res = await httpFetch(url, { signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5_000), headers: { accept: "application/json" } });
      if (!res.ok) throw new Error(`${url} answered ${res.status}`);
      const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
      if (doc.issuer !== this.opts.issuer) throw new Error(`${url} names issuer ${String(doc.issuer)}, expected ${this.opts.issuer}`);
      if (typeof doc.jwks_uri !== "string" || !URL.canParse(doc.jwks_uri)) throw new Error(`${url} has no valid jwks_uri`);
      return doc.jwks_uri;
    } catch (e) {
      this.lastDiscoveryFailure = this.clock().getTime();
      throw authUnavailable("the authorization server's discovery document is unavailable", e);
    }
  }
}

/** Discovery and JWKS requests: CLIENT spans under the call's auth span when tracing is on. */
const httpFetch = tracedFetch();

/** jose's fetch of the JWKS, reporting each answer (or failure) to `observe`. */
function jwksFetch(observe: ((ok: boolean) => void) | undefined): FetchImplementation {
  if (observe === undefined) return httpFetch;
  return (url, options) =>
    httpFetch(url, options).then(
      (res) => (observe(res.ok), res),
      (e: unknown) => {
        observe(false);
        throw e;
      },
    );
}
