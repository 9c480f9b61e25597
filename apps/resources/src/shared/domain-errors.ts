import { AppError, type ErrorStatus } from "@altalune/core";

/**
 * The errors a domain answers about one of its rows: most carry the row's public id under the
 * domain's meta key (`user_id`, `client_id`, ...) and differ only in code, status and message. Each
 * domain's errors.ts declares its codes and messages through this; what reaches a client (code,
 * status, message, meta) is exactly what was written out by hand before.
 */
export function domainErrors(entity: string, idKey: string) {
  /** `<entity> with ID '<id>' not found`. */
  const notFound = (code: string) => (publicId: string) =>
    new AppError({ code, status: "not_found", message: `${entity} with ID '${publicId}' not found`, meta: { [idKey]: publicId } });
  /** `<entity> with <what> '<value>' already exists`, the value in meta under `metaKey` (`what` by default). */
  const alreadyExists = (code: string, what: string, metaKey: string = what) => (value: string) =>
    new AppError({ code, status: "already_exists", message: `${entity} with ${what} '${value}' already exists`, meta: { [metaKey]: value } });
  /** A fixed message about the row; `extra` follows the id in meta. */
  const aboutRow = (code: string, status: ErrorStatus, message: string, extra: Record<string, string> = {}) => (publicId: string) =>
    new AppError({ code, status, message, meta: { [idKey]: publicId, ...extra } });
  return {
    notFound,
    alreadyExists,
    /** The pair most domains answer as they are: `notFound` under codes.NotFound, `alreadyExists` of `what` under codes.AlreadyExists. */
    notFoundAndAlreadyExists: (codes: { NotFound: string; AlreadyExists: string }, what: string) => ({
      notFound: notFound(codes.NotFound),
      alreadyExists: alreadyExists(codes.AlreadyExists, what),
    }),
    aboutRow,
    /**
     * The two errors of rows whose secret is sealed with ENCRYPTION_KEY (`secret`: what the messages
     * call it): the server has no key (a configuration gap, not the caller's mistake), or the sealed
     * secret does not open with the key (the key changed, or the row was altered).
     */
    sealedSecret: (codes: { EncryptionKeyMissing: string; SecretUnreadable: string }, secret: string) => ({
      encryptionKeyMissing: () =>
        domainError(
          codes.EncryptionKeyMissing,
          "failed_precondition",
          `ENCRYPTION_KEY is not configured on this server: ${secret}s can be neither sealed nor revealed`,
        ),
      secretUnreadable: aboutRow(codes.SecretUnreadable, "internal", `the ${secret} cannot be decrypted with the configured ENCRYPTION_KEY`),
    }),
  };
}

/** An error that names no row (or names it its own way): the same fields, on one line. */
export function domainError(code: string, status: ErrorStatus, message: string, meta?: Record<string, string>): AppError {
  return new AppError({ code, status, message, ...(meta === undefined ? {} : { meta }) });
}
