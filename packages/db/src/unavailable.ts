import { AppError } from "@altalune/core";
import { transientKind } from "./pg-errors.js";

/** Error codes of the database layer (docs/architecture.md "Error codes"). */
export const DatabaseCodes = {
  Unavailable: "60014",
  Conflict: "60015",
} as const;

/**
 * Why a call that needed the database was answered Unavailable (ErrorDetail meta `reason`):
 * - `unreachable`: connecting failed or the connection broke before the outcome was decided
 *   (nothing was committed);
 * - `timeout`: no answer within DB_UNAVAILABLE_TIMEOUT_MS while the database was unreachable;
 * - `pool_busy`: no pooled connection became free within the queue timeout;
 * - `commit_unknown`: the connection broke after COMMIT was sent: the write may or may not have
 *   been applied (a client must check before repeating a non-idempotent write).
 */
export type UnavailableReason = "unreachable" | "timeout" | "pool_busy" | "commit_unknown";

export class DatabaseUnavailableError extends AppError {
  constructor(
    readonly reason: UnavailableReason,
    cause?: unknown,
  ) {
    super({
      code: DatabaseCodes.Unavailable,
      status: "unavailable",
      message: reason === "commit_unknown" ? "the database became unavailable while committing; the outcome is unknown" : "the database is unavailable; retry later",
      meta: { reason },
      cause,
    });
    this.name = "DatabaseUnavailableError";
  }
}

/** A serialization failure or deadlock that persisted through the transaction helper's retries. */
export class TransactionConflictError extends AppError {
  constructor(attempts: number, cause: unknown) {
    super({
      code: DatabaseCodes.Conflict,
      status: "aborted",
      message: "the transaction conflicted with concurrent ones; retry",
      meta: { attempts: String(attempts) },
      cause,
    });
    this.name = "TransactionConflictError";
  }
}

/**
 * The one translation of driver failures: unavailability becomes DatabaseUnavailableError (the
 * rpc layer answers it Unavailable like any AppError); everything else is returned unchanged, so
 * repositories keep seeing PostgresErrors (constraint names, SQLSTATEs).
 */
export function translateDatabaseError(e: unknown, reason: UnavailableReason = "unreachable"): unknown {
  if (e instanceof AppError) return e;
  return transientKind(e) === "unavailable" ? new DatabaseUnavailableError(reason, e) : e;
}
