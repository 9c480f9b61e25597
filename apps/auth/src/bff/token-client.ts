import * as oidc from "openid-client";
import { tracedFetch } from "@altalune/core";
import { INTERNAL_CALLER_HEADER } from "../rate-limit/index.js";

export interface TokenSet {
  accessToken: string;
  refreshToken: string | undefined;
  expiresIn: number;
}

export class TokenEndpointError extends Error {
  constructor(
    message: string,
    /** The OAuth error code (invalid_grant, …) when the auth server answered one; else unreachable. */
    readonly oauthError: string | undefined,
    options?: ErrorOptions,
    /** The HTTP status of that answer (undefined when unreachable). */
    readonly httpStatus?: number,
  ) {
    super(message, options);
    this.name = "TokenEndpointError";
  }
}

export interface DashboardClientCredentials {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Plain-HTTP issuers are allowed outside production (the dev auth server). */
  allowHttp: boolean;
  /**
   * Sent as INTERNAL_CALLER_HEADER on every call: the token endpoint's per-client limit skips the
   * BFF, which counts each end user's address itself.
   */
  internalSecret?: string;
}

/**
 * Whether the token endpoint could not answer for now (unreachable, `temporarily_unavailable`,
 * `server_error`, any 5xx): the refresh token was not judged, so the session must be kept.
 */
export function isTemporaryTokenFailure(e: unknown): boolean {
  if (!(e instanceof TokenEndpointError)) return false;
  if (e.oauthError === undefined) return true;
  return e.oauthError === "temporarily_unavailable" || e.oauthError === "server_error" || (e.httpStatus !== undefined && e.httpStatus >= 500);
}

function tokenSetOf(res: oidc.TokenEndpointResponse): TokenSet {
  return { accessToken: res.access_token, refreshToken: res.refresh_token, expiresIn: res.expires_in ?? 0 };
}

function wrap(e: unknown): TokenEndpointError {
  if (e instanceof oidc.ResponseBodyError) return new TokenEndpointError(`${e.error}: ${e.error_description ?? ""}`.trim(), e.error, { cause: e }, e.status);
  return new TokenEndpointError("the token endpoint cannot be reached", undefined, { cause: e });
}

/**
 * The BFF is the dashboard client: a confidential client that exchanges codes and refresh tokens
 * with its secret (client_secret_basic), using openid-client against the issuer's discovery.
 */
export class DashboardTokenClient {
  private configuration: Promise<oidc.Configuration> | undefined;
  /**
   * Every request (discovery, token, revocation) is a CLIENT span carrying the trace of the BFF
   * request on (traceparent), so the token endpoint's span is a child of the BFF request's.
   */
  private readonly send = tracedFetch();

  constructor(private readonly creds: DashboardClientCredentials) {}

  async exchangeCode(code: string, codeVerifier: string, redirectUri: string): Promise<TokenSet> {
    const config = await this.config();
    try {
      return tokenSetOf(
        await oidc.genericGrantRequest(config, "authorization_code", { code, code_verifier: codeVerifier, redirect_uri: redirectUri }),
      );
    } catch (e) {
      throw wrap(e);
    }
  }

  async refresh(refreshToken: string): Promise<TokenSet> {
    const config = await this.config();
    try {
      return tokenSetOf(await oidc.refreshTokenGrant(config, refreshToken));
    } catch (e) {
      throw wrap(e);
    }
  }

  async revokeRefreshToken(refreshToken: string): Promise<void> {
    const config = await this.config();
    try {
      await oidc.tokenRevocation(config, refreshToken, { token_type_hint: "refresh_token" });
    } catch (e) {
      throw wrap(e);
    }
  }

  private config(): Promise<oidc.Configuration> {
    this.configuration ??= oidc
      .discovery(
        new URL(this.creds.issuer),
        this.creds.clientId,
        undefined,
        oidc.ClientSecretBasic(this.creds.clientSecret),
        { [oidc.customFetch]: this.send, ...(this.creds.allowHttp ? { execute: [oidc.allowInsecureRequests] } : {}) },
      )
      .then((config) => {
        const secret = this.creds.internalSecret;
        if (secret !== undefined) {
          config[oidc.customFetch] = (url, options) =>
            this.send(url, { ...options, headers: { ...Object.fromEntries(new Headers(options.headers)), [INTERNAL_CALLER_HEADER]: secret } });
        }
        return config;
      })
      .catch((e: unknown) => {
        this.configuration = undefined;
        throw wrap(e);
      });
    return this.configuration;
  }
}
