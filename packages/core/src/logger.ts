import { pino, type Logger, type LevelWithSilent } from "pino";
import { isNoTraceFields, traceLogFields } from "./tracing.js";

export type { Logger };

// Credentials must never reach a log line, whatever object they travel in.
export const REDACT_PATHS = [
  "password",
  "secret",
  "token",
  "accessToken",
  "refreshToken",
  "apiKey",
  "key",
  "otp",
  "code_verifier",
  "authorization",
  "cookie",
  "clientSecret",
  "client_secret",
  "encryptionKey",
  "*.clientSecret",
  "*.client_secret",
  "*.password",
  "*.secret",
  "*.token",
  "*.accessToken",
  "*.refreshToken",
  "*.apiKey",
  "*.otp",
  "*.authorization",
  "*.cookie",
  "headers.authorization",
  "headers.cookie",
  'headers["set-cookie"]',
  'headers["x-api-key"]',
];

export interface LoggerOptions {
  level: LevelWithSilent;
  destination?: pino.DestinationStream;
  /** Log to stderr (one-shot commands whose stdout is their result, e.g. a token). */
  toStderr?: boolean;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level,
      base: undefined,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      // trace_id/span_id of the active span on every line written inside a traced call. With
      // tracing off this is one boolean test per line: the shared empty result is not merged.
      mixin: traceLogFields,
      mixinMergeStrategy: (line: object, fields: object) => (isNoTraceFields(fields) ? line : { ...fields, ...line }),
    },
    opts.destination ?? (opts.toStderr ? pino.destination({ fd: 2, sync: true }) : undefined),
  );
}
