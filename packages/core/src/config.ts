import { resolve } from "node:path";
import { z } from "zod";
import { allowedHostProblem } from "./outbound.js";

// Configuration comes from environment variables, validated once at start-up. Every problem is
// reported by its variable name in one message, so a misconfigured deployment fails fast.

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().positive();
const seconds = z.coerce.number().int().positive();
const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).transform((u) => u.replace(/\/+$/, ""));
const boolText = z.enum(["true", "false"]).transform((v) => v === "true");
// A metrics port: a number (0 = a free port) or "off". Unset = the documented default, except
// under NODE_ENV=test, where many servers share one machine and a fixed port would collide.
const metricsPort = z.union([z.literal("off"), port]).optional();
const commaList = (text: string | undefined): string[] =>
  (text ?? "")
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v.length > 0);

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  // A direct connection for `migrate` and `seed` when DATABASE_URL goes through a transaction
  // pooler (PgBouncer pool_mode=transaction): their session-level advisory lock needs one.
  MIGRATION_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  // false through PgBouncer 1.18's transaction pooling, which cannot keep named prepared statements.
  DATABASE_PREPARE: boolText.default(true),
  DATA_DIR: z.string().min(1).default(".data"),
  HOST: z.string().min(1).optional(),
  RESOURCES_PORT: port.default(3100),
  GRPC_PORT: port.default(3101),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  DASHBOARD_NAME: z.string().min(1).max(100).default("Altalune Dashboard"),
  AUTH_SERVER_NAME: z.string().min(1).max(100).default("Authalune"),
  DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(20),
  SHUTDOWN_TIMEOUT_MS: positiveMs.max(300_000).default(10_000),
  MAX_CALL_TIMEOUT_MS: positiveMs.max(3_600_000).default(60_000),
  // Failure behaviour (docs/operations.md): how long a call may wait on an unreachable database
  // (or for a pooled connection) before it is answered Unavailable; how long readiness reports
  // 503 before the listeners close on SIGTERM; how many calls one process serves at once.
  DB_UNAVAILABLE_TIMEOUT_MS: positiveMs.max(60_000).default(1000),
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(300_000).default(2000),
  MAX_CALLS_IN_FLIGHT: z.coerce.number().int().min(1).max(100_000).default(512),
  // Audit events older than this are dropped, a whole month at a time (docs/observability.md).
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(365),
  SUPERADMIN_EMAIL: z.string().trim().toLowerCase().pipe(z.email("must be an email address")).optional(),
  // The authorization server and how the Resources API trusts it.
  AUTH_PORT: port.default(3300),
  // The web client (apps/web) that `altalune dev` serves; its origin is the dashboard's default.
  WEB_PORT: port.default(3000),
  AUTH_ISSUER: httpUrl.optional(),
  AUTH_JWKS_URL: httpUrl.optional(),
  API_AUDIENCE: z.string().trim().min(1).max(200).default("urn:altalune:api"),
  ACCESS_TOKEN_TTL: seconds.max(86_400).default(900),
  REFRESH_TOKEN_TTL: seconds.max(31_536_000).default(2_592_000),
  AUTO_ACTIVATE: boolText.default(true),
  ENCRYPTION_KEY: z.string().optional(),
  SMTP_URL: z.string().regex(/^smtps?:\/\//, "must be an smtp:// or smtps:// URL").optional(),
  MAIL_FROM: z.string().min(3).max(200).default("Altalune <no-reply@altalune.local>"),
  // Browser origins allowed to call with credentials (cookies): comma-separated, exact match.
  ALLOWED_ORIGINS: z.string().optional(),
  COOKIE_DOMAIN: z.string().trim().min(1).max(253).optional(),
  // Reverse proxies in front of the servers that append to X-Forwarded-For (the client address
  // is taken that many entries from the right; anything further left is client-controlled).
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).optional(),
  DASHBOARD_CLIENT_ID: z.uuid("must be a UUID").optional(),
  DASHBOARD_CLIENT_SECRET: z.string().min(32, "must be at least 32 characters").max(200).optional(),
  DASHBOARD_REDIRECT_URIS: z.string().optional(),
  // Hosts (names, addresses or CIDRs, comma-separated) besides the public internet that outgoing
  // requests to configured URLs (upstream identity providers) may reach: a self-hosted IdP on a
  // private network. Operator-only on purpose: the API can never widen it.
  OUTBOUND_ALLOWED_HOSTS: z.string().optional(),
  // Confidential clients allowed to introspect tokens issued to other clients (comma-separated
  // client ids). Operator-only: no API writes it. Every other client sees only its own tokens.
  INTROSPECTION_CLIENT_IDS: z.string().optional(),
  // Calls per minute to the token, introspection and revocation endpoints per (client, address);
  // the BFF's /oauth/exchange and /oauth/refresh per end-user address.
  TOKEN_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(120),
  // Prometheus /metrics of each app on its own internal port (docs/observability.md).
  METRICS_PORT: metricsPort,
  AUTH_METRICS_PORT: metricsPort,
});

/** The seeded superadmin's email outside production, where the variable is required. */
export const DEV_SUPERADMIN_EMAIL = "admin@altalune.local";

/** Origins of the dashboard's development server (WEB_PORT), allowed outside production by default. */
export const devDashboardOrigins = (webPort: number): string[] => [`http://localhost:${webPort}`, `http://127.0.0.1:${webPort}`];
export const DEV_DASHBOARD_ORIGINS = devDashboardOrigins(3000);

export type Env = z.infer<typeof envSchema>;

export interface Config {
  env: Env["NODE_ENV"];
  production: boolean;
  databaseUrl: string | undefined;
  /** Where `migrate` and `seed` connect (MIGRATION_DATABASE_URL, else DATABASE_URL). */
  migrationDatabaseUrl: string | undefined;
  /** Named prepared statements (off behind a transaction-pooling PgBouncer). */
  databasePrepare: boolean;
  dataDir: string;
  host: string;
  resourcesPort: number;
  grpcPort: number;
  /** Where `altalune dev` serves the web client (WEB_PORT). */
  webPort: number;
  logLevel: Env["LOG_LEVEL"];
  branding: { dashboardName: string; authServerName: string };
  dbPoolMax: number;
  shutdownTimeoutMs: number;
  maxCallTimeoutMs: number;
  dbUnavailableTimeoutMs: number;
  /** Readiness is 503 this long before the listeners stop accepting (capped at half the shutdown timeout). */
  shutdownDrainMs: number;
  maxCallsInFlight: number;
  /** Audit events are kept at least this many days (AUDIT_RETENTION_DAYS), then dropped by month. */
  auditRetentionDays: number;
  /** Where the Resources API serves /metrics (METRICS_PORT, default 9464; "off" = nowhere). */
  metricsPort: number | "off";
  /** Email of the superadmin user the seed creates (and renames when it changes). */
  superadminEmail: string;
  auth: AuthConfig;
  /** AES-256-GCM key for secrets at rest; outside production `withDevSecrets` fills it in. */
  encryptionKey: Buffer | undefined;
  mail: { smtpUrl: string | undefined; from: string };
  /** Browser origins allowed to send credentials (exact `scheme://host[:port]`). */
  allowedOrigins: string[];
  cookieDomain: string | undefined;
  /** Proxies trusted to append X-Forwarded-For (0 = use the socket address). */
  trustedProxyHops: number;
  /** The first-party dashboard client, seeded into altalune_oauth_clients. */
  dashboardClient: { clientId: string | undefined; clientSecret: string | undefined; redirectUris: string[] };
  /** OUTBOUND_ALLOWED_HOSTS: private destinations outgoing requests may reach (see outbound.ts). */
  outboundAllowedHosts: string[];
}

export interface AuthConfig {
  port: number;
  /** Where the auth server serves /metrics (AUTH_METRICS_PORT, default 9465; "off" = nowhere). */
  metricsPort: number | "off";
  /** Public URL of the authorization server (`iss` of its tokens), no trailing slash. */
  issuer: string;
  /** Where the Resources API fetches signing keys; undefined = discover from the issuer. */
  jwksUrl: string | undefined;
  /** `aud` of access tokens meant for the Resources API. */
  apiAudience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  autoActivate: boolean;
  /** Client ids (lower case) that may introspect any client's tokens (INTROSPECTION_CLIENT_IDS). */
  introspectionClientIds: string[];
  /** TOKEN_RATE_LIMIT_PER_MINUTE. */
  tokenRateLimitPerMinute: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "not set": shells and .env files often leave them that way.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const e = parsed.data;
  const production = e.NODE_ENV === "production";
  if (production) {
    // Development defaults that must not reach a deployment (the embedded database, a guessable
    // admin address), reported together so one failed start names them all.
    const missing = [
      ...(e.DATABASE_URL === undefined ? ["DATABASE_URL: required in production"] : []),
      ...(e.SUPERADMIN_EMAIL === undefined ? ["SUPERADMIN_EMAIL: required in production"] : []),
      ...(e.AUTH_ISSUER === undefined ? ["AUTH_ISSUER: required in production (the public URL of the auth server)"] : []),
      ...(e.ENCRYPTION_KEY === undefined ? ["ENCRYPTION_KEY: required in production (base64 of 32 random bytes)"] : []),
    ];
    if (missing.length > 0) throw new ConfigError(missing);
  }
  const encryptionKey = e.ENCRYPTION_KEY === undefined ? undefined : parseEncryptionKey(e.ENCRYPTION_KEY);
  // Development assumes the dashboard's dev server on :3000; production allows no origin unless told.
  const devOrigins = devDashboardOrigins(e.WEB_PORT);
  const allowedOrigins = commaList(e.ALLOWED_ORIGINS ?? (production ? "" : devOrigins.join(",")));
  const redirectUris = commaList(
    e.DASHBOARD_REDIRECT_URIS ?? (production ? "" : devOrigins.map((o) => `${o}/auth/callback`).join(",")),
  );
  const outboundAllowedHosts = commaList(e.OUTBOUND_ALLOWED_HOSTS);
  const introspectionClientIds = commaList(e.INTROSPECTION_CLIENT_IDS).map((id) => id.toLowerCase());
  const problems = [
    ...introspectionClientIds
      .filter((id) => !z.uuid().safeParse(id).success)
      .map((id) => `INTROSPECTION_CLIENT_IDS: "${id}" is not a client id (UUID)`),
    ...outboundAllowedHosts.flatMap((h) => {
      const problem = allowedHostProblem(h);
      return problem === undefined ? [] : [`OUTBOUND_ALLOWED_HOSTS: ${problem}`];
    }),
    ...allowedOrigins.filter((o) => !isOrigin(o)).map((o) => `ALLOWED_ORIGINS: "${o}" is not an origin (scheme://host[:port])`),
    ...redirectUris.filter((u) => !URL.canParse(u)).map((u) => `DASHBOARD_REDIRECT_URIS: "${u}" is not a URL`),
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    env: e.NODE_ENV,
    production,
    databaseUrl: e.DATABASE_URL,
    migrationDatabaseUrl: e.MIGRATION_DATABASE_URL ?? e.DATABASE_URL,
    databasePrepare: e.DATABASE_PREPARE,
    dataDir: resolve(e.DATA_DIR),
    // Dev listens on loopback only; production is meant to sit behind a load balancer.
    host: e.HOST ?? (production ? "0.0.0.0" : "127.0.0.1"),
    resourcesPort: e.RESOURCES_PORT,
    grpcPort: e.GRPC_PORT,
    webPort: e.WEB_PORT,
    logLevel: e.LOG_LEVEL,
    branding: { dashboardName: e.DASHBOARD_NAME, authServerName: e.AUTH_SERVER_NAME },
    dbPoolMax: e.DB_POOL_MAX,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    maxCallTimeoutMs: e.MAX_CALL_TIMEOUT_MS,
    dbUnavailableTimeoutMs: e.DB_UNAVAILABLE_TIMEOUT_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    maxCallsInFlight: e.MAX_CALLS_IN_FLIGHT,
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    metricsPort: e.METRICS_PORT ?? (e.NODE_ENV === "test" ? 0 : 9464),
    superadminEmail: e.SUPERADMIN_EMAIL ?? DEV_SUPERADMIN_EMAIL,
    auth: {
      port: e.AUTH_PORT,
      metricsPort: e.AUTH_METRICS_PORT ?? (e.NODE_ENV === "test" ? 0 : 9465),
      // localhost, not 127.0.0.1: the web client on http://localhost:3000, the BFF and the API must
      // be one site for the browser to send the SameSite cookies (ports do not matter; hosts do).
      issuer: e.AUTH_ISSUER ?? `http://localhost:${e.AUTH_PORT}`,
      jwksUrl: e.AUTH_JWKS_URL,
      apiAudience: e.API_AUDIENCE,
      accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL,
      refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL,
      autoActivate: e.AUTO_ACTIVATE,
      introspectionClientIds,
      tokenRateLimitPerMinute: e.TOKEN_RATE_LIMIT_PER_MINUTE,
    },
    encryptionKey,
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM },
    allowedOrigins,
    cookieDomain: e.COOKIE_DOMAIN,
    // Production is meant to sit behind one load balancer; development is reached directly.
    trustedProxyHops: e.TRUSTED_PROXY_HOPS ?? (production ? 1 : 0),
    dashboardClient: {
      clientId: e.DASHBOARD_CLIENT_ID,
      clientSecret: e.DASHBOARD_CLIENT_SECRET,
      redirectUris,
    },
    outboundAllowedHosts,
  };
}

function isOrigin(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const u = new URL(text);
  return (u.protocol === "http:" || u.protocol === "https:") && u.origin === text;
}

function parseEncryptionKey(text: string): Buffer {
  const key = Buffer.from(text, "base64");
  // Round-trip check: Buffer.from ignores junk characters, which would silently shorten a key.
  if (key.length !== 32 || key.toString("base64") !== text.trim()) {
    throw new ConfigError(["ENCRYPTION_KEY: must be the base64 encoding of exactly 32 bytes (openssl rand -base64 32)"]);
  }
  return key;
}
