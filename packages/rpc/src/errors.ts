import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { Metadata, type StatusObject } from "@grpc/grpc-js";
import { AppError, type ErrorStatus } from "@altalune/core";
import { ErrorDetailSchema } from "@altalune/proto";

const codeOfStatus: Record<ErrorStatus, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
  internal: Code.Internal,
};

export function errorDetail(code: string, meta: Readonly<Record<string, string>>) {
  return { desc: ErrorDetailSchema, value: create(ErrorDetailSchema, { code, meta: { ...meta } }) };
}

export function connectErrorFromApp(e: AppError): ConnectError {
  return new ConnectError(e.message, codeOfStatus[e.status], undefined, [errorDetail(e.code, e.meta)]);
}

/**
 * An Unavailable error caused by another Unavailable one reports the cause: e.g. the user-state
 * lookup's 60012 wrapping the database layer's 60014 is answered 60014, the one code for
 * "database unavailable", wherever it was caught and wrapped.
 */
function unavailableCause(e: AppError): AppError {
  let current = e;
  while (current.status === "unavailable" && current.cause instanceof AppError && current.cause.status === "unavailable") current = current.cause;
  return current;
}

/**
 * What a client sees for any failure. ConnectErrors raised by the transport or the pipeline pass
 * through; AppErrors become their code plus an ErrorDetail; anything else is a bug whose cause
 * stays in the log: the client gets only the request id to quote.
 */
export function toClientError(e: unknown, requestId: string): { error: ConnectError; unexpected: boolean } {
  if (e instanceof AppError) return { error: connectErrorFromApp(unavailableCause(e)), unexpected: false };
  if (e instanceof ConnectError) return { error: e, unexpected: e.code === Code.Internal || e.code === Code.Unknown };
  return {
    error: new ConnectError(`internal error (request id ${requestId})`, Code.Internal),
    unexpected: true,
  };
}

/**
 * grpc-js status for a ConnectError, with the same grpc-status-details-bin (google.rpc.Status with
 * the error details) that connect-node writes, so both ports produce identical errors.
 */
export function grpcStatusFromConnectError(e: ConnectError, extra?: Headers): Partial<StatusObject> {
  const trailer = setTrailerStatus(new Headers(), e);
  const metadata = new Metadata();
  extra?.forEach((value, key) => metadata.set(key, value));
  const details = trailer.get("grpc-status-details-bin");
  if (details !== null) metadata.set("grpc-status-details-bin", Buffer.from(details, "base64"));
  return { code: e.code as number, details: e.rawMessage, metadata };
}
