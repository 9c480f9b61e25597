import { createHash } from "node:crypto";
import * as oidc from "openid-client";
import { guardedFetch, OutboundPolicy, OutboundRefusedError, type FetchLike, type GuardedFetchOptions } from "@altalune/core";
import type { ProviderConfig } from "@altalune/oauth-tables";
import type { UpstreamIdentity } from "./accounts.js";

/**
 * This server as an OAuth client of an upstream provider. OpenID Connect types (google,
 * microsoft, oidc) go through discovery, PKCE, state, nonce and ID-token validation by
 * openid-client, then userinfo; GitHub is plain OAuth 2.0 (code + PKCE) followed by its user and
 * verified-emails API. Apple is not driven yet (it needs a JWT client secret and form_post).
 */

export interface AuthorizationStart {
  url: URL;
  state: string;
  /** OpenID Connect only. */
  nonce: string | undefined;
  codeVerifier: string;
}

export interface CallbackChecks {
  state: string;
  nonce: string | undefined;
  codeVerifier: string;
}

/**
 * - unavailable: the provider could not be reached or answered nonsense (502);
 * - refused: it answered with an OAuth error, e.g. invalid_grant for a stale code (400);
 * - invalid: its answer failed validation (ID token, nonce, subject) (400);
 * - unsupported: the provider type is not driven by this server (400).
 */
export type UpstreamFailure = "unavailable" | "refused" | "invalid" | "unsupported";

export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
    /** The OAuth error code when the provider sent one. */
    readonly oauthError?: string,
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

export type UpstreamProvider = ProviderConfig;

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

export interface UpstreamClientOptions {
  /**
   * Where upstream requests may go (OutboundPolicy.fromConfig(config)). Default: production rules
   * without exceptions (https, public addresses only).
   */
  outbound?: OutboundPolicy;
  /** Options of the guarded fetch (tests: a resolver, a trusted CA). */
  fetch?: GuardedFetchOptions;
  /** Seconds per upstream HTTP request. */
  timeoutSeconds?: number;
  /** How long a discovered provider (metadata, JWKS) is reused. */
  metadataTtlMs?: number;
  userAgent?: string;
}

const DEFAULT_TIMEOUT_SECONDS = 10;
const DEFAULT_METADATA_TTL_MS = 10 * 60_000;

export class UpstreamClient {
  private readonly configurations = new Map<string, { at: number; config: oidc.Configuration }>();
  private readonly timeoutSeconds: number;
  private readonly metadataTtlMs: number;
  private readonly userAgent: string;
  private readonly outbound: OutboundPolicy;
  /**
   * Every request to a provider (discovery, token, userinfo, JWKS, GitHub's API) goes through this
   * fetch: the policy is checked on the address each connection is made to.
   */
  private readonly fetch: FetchLike;

  constructor(opts: UpstreamClientOptions = {}) {
    this.outbound = opts.outbound ?? new OutboundPolicy(true);
    this.fetch = guardedFetch(this.outbound, opts.fetch);
    this.timeoutSeconds = opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    this.metadataTtlMs = opts.metadataTtlMs ?? DEFAULT_METADATA_TTL_MS;
    this.userAgent = opts.userAgent ?? "altalune-auth";
  }

  async begin(p: UpstreamProvider, redirectUri: string): Promise<AuthorizationStart> {
    const config = await this.configuration(p);
    const state = oidc.randomState();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const nonce = p.protocol === "oidc" ? oidc.randomNonce() : undefined;
    const params: Record<string, string> = {
      redirect_uri: redirectUri,
      scope: p.scopes.join(" "),
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
    };
    if (nonce !== undefined) params["nonce"] = nonce;
    return { url: oidc.buildAuthorizationUrl(config, params), state, nonce, codeVerifier };
  }

  /** Exchanges the code of a callback (its query in `params`) and returns who signed in. */
  async complete(p: UpstreamProvider, redirectUri: string, params: URLSearchParams, checks: CallbackChecks): Promise<UpstreamIdentity> {
    const config = await this.configuration(p);
    const currentUrl = new URL(redirectUri);
    for (const [k, v] of params) currentUrl.searchParams.append(k, v);
    try {
      if (p.protocol === "oidc") {
        const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          ...(checks.nonce === undefined ? { idTokenExpected: true } : { expectedNonce: checks.nonce }),
        });
        const idClaims = tokens.claims();
        if (!idClaims) throw new UpstreamError("invalid", "no ID token in the token response");
        const userinfo = config.serverMetadata().userinfo_endpoint
          ? await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub)
          : undefined;
        return identityFromClaims(p.slug, idClaims, userinfo);
      }
      const tokens = await oidc.authorizationCodeGrant(config, currentUrl, { pkceCodeVerifier: checks.codeVerifier, expectedState: checks.state });
      return await this.githubIdentity(p, tokens.access_token);
    } catch (e) {
      throw classify(e);
    }
  }

  private plainHttpAllowed(url: string): boolean {
    return plainHttpAllowed(this.outbound, url);
  }

  private async configuration(p: UpstreamProvider): Promise<oidc.Configuration> {
    if (p.providerType === "apple") throw new UpstreamError("unsupported", "Sign in with Apple is not supported yet");
    if (p.protocol === "oidc") return this.discovered(p);
    const metadata: oidc.ServerMetadata = {
      issuer: new URL(p.authorizationEndpoint).origin,
      authorization_endpoint: p.authorizationEndpoint,
      token_endpoint: p.tokenEndpoint,
    };
    // GitHub documents the client credentials in the form body.
    const config = new oidc.Configuration(metadata, p.clientId, { client_secret: p.clientSecret }, oidc.ClientSecretPost(p.clientSecret));
    config.timeout = this.timeoutSeconds;
    config[oidc.customFetch] = this.fetch;
    if ([p.authorizationEndpoint, p.tokenEndpoint].some((u) => this.plainHttpAllowed(u))) oidc.allowInsecureRequests(config);
    return config;
  }

  /**
   * The discovered Configuration of an OpenID provider, reused for a while: it carries what
   * discovery found (including openid-client's handling of Microsoft's templated multi-tenant
   * issuer) and its JWKS cache. Keyed by everything that makes it, so a changed secret or issuer
   * takes effect at once.
   */
  private async discovered(p: Extract<UpstreamProvider, { protocol: "oidc" }>): Promise<oidc.Configuration> {
    const key = [p.id, p.issuerUrl, p.clientId, sha256(p.clientSecret)].join("\n");
    const now = Date.now();
    const cached = this.configurations.get(key);
    if (cached && now - cached.at < this.metadataTtlMs) return cached.config;
    for (const [k, v] of this.configurations) if (now - v.at >= this.metadataTtlMs) this.configurations.delete(k);
    try {
      const insecure = this.plainHttpAllowed(p.issuerUrl);
      const config = await oidc.discovery(new URL(p.issuerUrl), p.clientId, { client_secret: p.clientSecret }, lazySecretAuth(p.clientSecret), {
        timeout: this.timeoutSeconds,
        [oidc.customFetch]: this.fetch,
        ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
      });
      config.timeout = this.timeoutSeconds;
      // Token, userinfo and JWKS requests of this configuration go through the same guarded fetch.
      config[oidc.customFetch] = this.fetch;
      this.configurations.set(key, { at: now, config });
      return config;
    } catch (e) {
      const failure = classify(e);
      throw new UpstreamError("unavailable", `discovery at ${p.issuerUrl} failed: ${failure.message}`);
    }
  }

  private async githubIdentity(p: Extract<UpstreamProvider, { protocol: "github" }>, accessToken: string): Promise<UpstreamIdentity> {
    const get = async (url: string): Promise<Response> =>
      this.fetch(url, {
        headers: { authorization: `Bearer ${accessToken}`, accept: "application/vnd.github+json", "user-agent": this.userAgent },
        signal: AbortSignal.timeout(this.timeoutSeconds * 1000),
        // The access token is in the headers: a redirect is not followed anywhere.
        redirect: "error",
      });
    const userRes = await get(p.userinfoEndpoint);
    if (!userRes.ok) throw new UpstreamError(userRes.status >= 500 ? "unavailable" : "refused", `GitHub user API answered ${userRes.status}`);
    const user = (await userRes.json()) as { id?: unknown; login?: unknown; name?: unknown; email?: unknown; avatar_url?: unknown };
    if (typeof user.id !== "number" && typeof user.id !== "string") throw new UpstreamError("invalid", "GitHub user without an id");
    // The verified addresses need the user:email scope; without it only the public (unverified) one is known.
    let email: { address: string; verified: boolean } | undefined;
    const emailsRes = await get(p.emailsEndpoint);
    if (emailsRes.ok) {
      const emails = (await emailsRes.json()) as unknown;
      if (Array.isArray(emails)) {
        const list = emails.filter(
          (e): e is { email: string; primary?: boolean; verified?: boolean } => typeof e === "object" && e !== null && typeof (e as { email?: unknown }).email === "string",
        );
        const chosen = list.find((e) => e.primary === true && e.verified === true) ?? list.find((e) => e.verified === true);
        if (chosen) email = { address: chosen.email, verified: true };
      }
    } else {
      await emailsRes.body?.cancel();
    }
    if (!email && typeof user.email === "string" && user.email !== "") email = { address: user.email, verified: false };
    const [firstName = "", ...rest] = (typeof user.name === "string" ? user.name : "").trim().split(/\s+/);
    return {
      provider: p.slug,
      providerUserId: String(user.id),
      email: email?.address.toLowerCase(),
      emailVerified: email?.verified ?? false,
      firstName,
      lastName: rest.join(" "),
      avatarUrl: typeof user.avatar_url === "string" ? user.avatar_url : undefined,
    };
  }
}

/**
 * openid-client refuses http URLs unless told; told only where the outbound policy would let the
 * request through anyway (loopback outside production), so the policy stays the one rule.
 */
export function plainHttpAllowed(policy: OutboundPolicy, url: string): boolean {
  const u = new URL(url);
  return u.protocol === "http:" && policy.urlProblem(u) === undefined;
}

/**
 * client_secret_basic unless the provider lists only client_secret_post (the spec's default is
 * basic); decided per request from the metadata discovery found, which is not known before.
 */
function lazySecretAuth(secret: string): oidc.ClientAuth {
  const basic = oidc.ClientSecretBasic(secret);
  const post = oidc.ClientSecretPost(secret);
  return (as, client, body, headers) => {
    const methods = as.token_endpoint_auth_methods_supported;
    const usePost = methods !== undefined && !methods.includes("client_secret_basic") && methods.includes("client_secret_post");
    return (usePost ? post : basic)(as, client, body, headers);
  };
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
/** Apple sends email_verified as the string "true". */
const isTrue = (v: unknown): boolean => v === true || v === "true";

export function identityFromClaims(slug: string, idClaims: oidc.IDToken, userinfo: oidc.UserInfoResponse | undefined): UpstreamIdentity {
  const claims: Record<string, unknown> = { ...idClaims, ...userinfo };
  // The address and its verified flag come from the same source.
  const emailSource: Record<string, unknown> = userinfo && str(userinfo.email) ? userinfo : idClaims;
  let firstName = str(claims["given_name"]) ?? "";
  let lastName = str(claims["family_name"]) ?? "";
  if (firstName === "" && lastName === "") {
    const [first = "", ...rest] = (str(claims["name"]) ?? "").split(/\s+/);
    firstName = first;
    lastName = rest.join(" ");
  }
  const email = str(emailSource["email"]);
  return {
    provider: slug,
    providerUserId: idClaims.sub,
    email: email?.toLowerCase(),
    emailVerified: email !== undefined && isTrue(emailSource["email_verified"]),
    firstName,
    lastName,
    avatarUrl: str(claims["picture"]),
  };
}

const INVALID_CODES = new Set(["OAUTH_INVALID_RESPONSE", "OAUTH_JWT_CLAIM_COMPARISON_FAILED", "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED", "OAUTH_JWT_TIMESTAMP_CHECK_FAILED"]);

/** openid-client's errors as what the person is told: the provider refused, lied, or was not there. */
function classify(e: unknown): UpstreamError {
  if (e instanceof UpstreamError) return e;
  const refused = e instanceof OutboundRefusedError ? e : e instanceof Error && e.cause instanceof OutboundRefusedError ? e.cause : undefined;
  if (refused) return new UpstreamError("unavailable", `refused by the outbound policy: ${refused.message}`);
  if (e instanceof oidc.ResponseBodyError) {
    return new UpstreamError(e.status >= 500 ? "unavailable" : "refused", `the provider answered ${e.status} ${e.error}`, e.error);
  }
  if (e instanceof oidc.AuthorizationResponseError) return new UpstreamError("refused", `the provider returned ${e.error}`, e.error);
  if (e instanceof oidc.ClientError && e.code !== undefined && INVALID_CODES.has(e.code)) {
    return new UpstreamError("invalid", `the provider's response failed validation: ${e.message}`);
  }
  const message = e instanceof Error ? e.message : String(e);
  return new UpstreamError("unavailable", message);
}
