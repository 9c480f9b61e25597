import { pino, type Logger, type LevelWithSilent } from "pino";

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
    },
    opts.destination ?? (opts.toStderr ? pino.destination({ fd: 2, sync: true }) : undefined),
  );
}
