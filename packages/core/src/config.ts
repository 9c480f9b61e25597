import { resolve } from "node:path";
import { z } from "zod";

// Configuration comes from environment variables, validated once at start-up. Every problem is
// reported by its variable name in one message, so a misconfigured deployment fails fast.

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().positive();

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
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
  SUPERADMIN_EMAIL: z.string().trim().toLowerCase().pipe(z.email("must be an email address")).optional(),
});

/** The seeded superadmin's email outside production, where the variable is required. */
export const DEV_SUPERADMIN_EMAIL = "admin@altalune.local";

export type Env = z.infer<typeof envSchema>;

export interface Config {
  env: Env["NODE_ENV"];
  production: boolean;
  databaseUrl: string | undefined;
  dataDir: string;
  host: string;
  resourcesPort: number;
  grpcPort: number;
  logLevel: Env["LOG_LEVEL"];
  branding: { dashboardName: string; authServerName: string };
  dbPoolMax: number;
  shutdownTimeoutMs: number;
  maxCallTimeoutMs: number;
  /** Email of the superadmin user the seed creates (and renames when it changes). */
  superadminEmail: string;
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
    ];
    if (missing.length > 0) throw new ConfigError(missing);
  }
  return {
    env: e.NODE_ENV,
    production,
    databaseUrl: e.DATABASE_URL,
    dataDir: resolve(e.DATA_DIR),
    // Dev listens on loopback only; production is meant to sit behind a load balancer.
    host: e.HOST ?? (production ? "0.0.0.0" : "127.0.0.1"),
    resourcesPort: e.RESOURCES_PORT,
    grpcPort: e.GRPC_PORT,
    logLevel: e.LOG_LEVEL,
    branding: { dashboardName: e.DASHBOARD_NAME, authServerName: e.AUTH_SERVER_NAME },
    dbPoolMax: e.DB_POOL_MAX,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    maxCallTimeoutMs: e.MAX_CALL_TIMEOUT_MS,
    superadminEmail: e.SUPERADMIN_EMAIL ?? DEV_SUPERADMIN_EMAIL,
  };
}
