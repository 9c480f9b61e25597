// Application errors carry a stable code (the original system's numbering), a status that maps
// 1:1 onto Connect/gRPC codes, a client-safe message and string metadata. The rpc package turns
// them into `altalune.v1.ErrorDetail`; nothing else about an AppError ever reaches a client.

export type ErrorStatus =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "unauthenticated"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "unavailable"
  | "deadline_exceeded"
  | "internal";

export interface AppErrorInit {
  code: string;
  status: ErrorStatus;
  message: string;
  meta?: Record<string, string>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: ErrorStatus;
  readonly meta: Readonly<Record<string, string>>;

  constructor(init: AppErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "AppError";
    this.code = init.code;
    this.status = init.status;
    this.meta = init.meta ?? {};
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

/** Codes shared by every domain. Domain-specific codes live in each domain's errors.ts. */
export const CommonCodes = {
  InvalidPayload: "60001",
  Unexpected: "69901",
} as const;

export function invalidArgument(message: string, meta?: Record<string, string>): AppError {
  return new AppError({ code: CommonCodes.InvalidPayload, status: "invalid_argument", message, meta });
}
