import { AppError } from "@altalune/core";
import { AuthCodes } from "@altalune/access-tokens";

export function permissionDenied(message: string, meta: Record<string, string> = {}): AppError {
  return new AppError({ code: AuthCodes.PermissionDenied, status: "permission_denied", message, meta });
}
