import type { Middleware } from "koa";
import type Provider from "oidc-provider";
import { bounded, Counter, createMetricsRegistry, DURATION_BUCKETS, Gauge, Histogram, statusClass, type Registry } from "@altalune/core";
import { ROUTES } from "./provider/configuration.js";

// The auth server's metrics (docs/observability.md has the catalogue). Label values come from
// fixed sets only: route patterns (never raw paths, which carry interaction uids and slugs),
// provider *types* (a provider's slug is configured by an administrator), OAuth error codes and
// this code base's own words. Anything outside a set is "other".

/** How a login was attempted: the one-time email code, or an upstream provider of this type. */
export type LoginMethod = "email_code" | `upstream_${string}`;
export type LoginResult = "success" | "pending_activation" | "link_required" | "failed";

/** What the flows report; optional everywhere, so routes can be built without metrics (tests). */
export interface AuthEvents {
  login(method: LoginMethod, result: LoginResult): void;
  loginCode(result: "sent" | "rate_limited"): void;
  consent(action: "granted" | "denied" | "revoked"): void;
}

const UPSTREAM_TYPES: ReadonlySet<string> = new Set(["google", "github", "microsoft", "apple", "oidc"]);
const LOGIN_RESULTS: ReadonlySet<string> = new Set(["success", "pending_activation", "link_required", "failed"]);
const HTTP_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const GRANT_TYPES: ReadonlySet<string> = new Set([
  "authorization_code",
  "refresh_token",
  "client_credentials",
  "urn:ietf:params:oauth:grant-type:device_code",
  "urn:ietf:params:oauth:grant-type:token-exchange",
]);
/** OAuth error codes the token endpoint answers with (RFC 6749 §5.2 and oidc-provider's own). */
const GRANT_ERRORS: ReadonlySet<string> = new Set([
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "invalid_target",
  "invalid_dpop_proof",
  "use_dpop_nonce",
  "temporarily_unavailable",
  "server_error",
]);
const RATE_LIMIT_BUCKETS: ReadonlySet<string> = new Set([
  "login_code:ip",
  "login_code:interaction",
  "login_code:email",
  "email_change:user",
  "email_verification:user",
  "bff_token",
  ...[ROUTES.token, ROUTES.introspection, ROUTES.revocation].map((path) => `oauth_endpoint:${path}`),
]);

/** oidc-provider's paths (it has no router we can ask), as patterns. */
const PROVIDER_PATHS: ReadonlySet<string> = new Set([
  ...Object.values(ROUTES),
  "/.well-known/openid-configuration",
  `${ROUTES.end_session}/confirm`,
  `${ROUTES.end_session}/success`,
  "/healthz",
  "/readyz",
]);
const AUTHORIZATION_RESUME = `${ROUTES.authorization}/`;

/** The route pattern of a request: the router's (koa-router sets it), a known fixed path, or "unmatched". */
export function routeOf(matched: unknown, path: string): string {
  if (typeof matched === "string") return matched;
  if (PROVIDER_PATHS.has(path)) return path;
  if (path.startsWith(AUTHORIZATION_RESUME)) return `${ROUTES.authorization}/:uid`;
  return "unmatched";
}

export class AuthMetrics implements AuthEvents {
  readonly registry: Registry;
  private readonly requests: Counter<"route" | "method" | "status_class">;
  private readonly requestSeconds: Histogram<"route" | "method">;
  private readonly logins: Counter<"method" | "result">;
  private readonly codes: Counter<"result">;
  private readonly grants: Counter<"grant_type" | "result">;
  private readonly reuse: Counter;
  private readonly consents: Counter<"action">;
  private readonly rateLimits: Counter<"bucket">;
  private signerActivatedAt: () => Date | undefined = () => undefined;

  constructor() {
    const registry = createMetricsRegistry("auth");
    this.registry = registry;
    this.requests = new Counter({
      name: "altalune_http_requests_total",
      help: "HTTP requests answered, by route pattern, method and status class (2xx, 4xx, …).",
      labelNames: ["route", "method", "status_class"],
      registers: [registry],
    });
    this.requestSeconds = new Histogram({
      name: "altalune_http_request_duration_seconds",
      help: "Duration of HTTP requests until the response was sent, by route pattern and method.",
      labelNames: ["route", "method"],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
    this.logins = new Counter({
      name: "altalune_auth_logins_total",
      help: "Completed login attempts by method (email_code, upstream_<provider type>) and result.",
      labelNames: ["method", "result"],
      registers: [registry],
    });
    this.codes = new Counter({
      name: "altalune_auth_login_codes_total",
      help: "Login code requests: sent, or refused by a rate limit (rate_limited).",
      labelNames: ["result"],
      registers: [registry],
    });
    this.grants = new Counter({
      name: "altalune_auth_token_grants_total",
      help: "Token endpoint requests by grant type and result (success, or the OAuth error code).",
      labelNames: ["grant_type", "result"],
      registers: [registry],
    });
    this.reuse = new Counter({
      name: "altalune_auth_refresh_token_reuse_total",
      help: "Refresh tokens presented again after rotation (past the leeway): the grant was revoked.",
      registers: [registry],
    });
    this.consents = new Counter({
      name: "altalune_auth_consents_total",
      help: "Consents granted (incl. the first-party dashboard's implicit one), denied and revoked by the user.",
      labelNames: ["action"],
      registers: [registry],
    });
    this.rateLimits = new Counter({
      name: "altalune_auth_rate_limit_hits_total",
      help: "Requests refused by a rate limit, by limit (bucket).",
      labelNames: ["bucket"],
      registers: [registry],
    });
    const activatedAt = () => this.signerActivatedAt();
    new Gauge({
      name: "altalune_auth_signing_key_age_seconds",
      help: "Seconds since the current signing key became the signer (rotate with `altalune keys rotate`).",
      registers: [registry],
      collect() {
        const at = activatedAt();
        if (at === undefined) this.reset();
        else this.set(Math.max(0, (Date.now() - at.getTime()) / 1000));
      },
    });
  }

  /** Where the key-age gauge reads the signer's activation time (the provider host's key set). */
  readSignerFrom(activatedAt: () => Date | undefined): void {
    this.signerActivatedAt = activatedAt;
  }

  /**
   * Counts every request once its response has been sent or the connection closed: oidc-provider
   * and interactionFinished answer on the raw response (ctx.respond = false), so the status is
   * read from the response itself, and the route once routing has run.
   */
  httpMiddleware(): Middleware {
    return async (ctx, next) => {
      const started = performance.now();
      ctx.res.once("close", () => {
        this.countRequest(routeOf(ctx["_matchedRoute"], ctx.path), ctx.method, ctx.res.statusCode, (performance.now() - started) / 1000);
      });
      await next();
    };
  }

  /** One answered request; also called by the in-flight gate for the refusals it answers before Koa. */
  countRequest(route: string, httpMethod: string | undefined, status: number, seconds: number): void {
    const method = bounded(httpMethod, HTTP_METHODS);
    this.requests.inc({ route, method, status_class: statusClass(status) });
    this.requestSeconds.observe({ route, method }, seconds);
  }

  /** Token grants and refresh-token reuse from oidc-provider's events (each provider built). */
  watchProvider(provider: Provider): Provider {
    provider.on("grant.success", (ctx) => {
      this.grants.inc({ grant_type: bounded(String(ctx.oidc.params?.["grant_type"] ?? ""), GRANT_TYPES), result: "success" });
    });
    provider.on("grant.error", (ctx, err) => {
      const error = (err as { error?: unknown }).error;
      const grantType = bounded(String(ctx.oidc?.params?.["grant_type"] ?? ""), GRANT_TYPES);
      this.grants.inc({ grant_type: grantType, result: bounded(typeof error === "string" ? error : undefined, GRANT_ERRORS) });
      // oidc-provider's refresh_token grant: a consumed token presented again revokes the grant
      // (InvalidGrant's description is generic; the detail names the case).
      if (grantType === "refresh_token" && (err as { error_detail?: unknown }).error_detail === "refresh token already used") {
        this.reuse.inc();
      }
    });
    return provider;
  }

  login(method: LoginMethod, result: LoginResult): void {
    const m = method === "email_code" ? method : `upstream_${bounded(method.slice("upstream_".length), UPSTREAM_TYPES)}`;
    this.logins.inc({ method: m, result: bounded(result, LOGIN_RESULTS) });
  }

  loginCode(result: "sent" | "rate_limited"): void {
    this.codes.inc({ result });
  }

  consent(action: "granted" | "denied" | "revoked"): void {
    this.consents.inc({ action });
  }

  readonly rateLimited = (bucket: string): void => {
    this.rateLimits.inc({ bucket: bounded(bucket, RATE_LIMIT_BUCKETS) });
  };
}
