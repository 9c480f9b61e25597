import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema } from "@altalune/proto";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { BffError } from "./bff.js";

// Error codes (docs/architecture.md "Error codes") become sentences; a raw code is never shown.
const APP_MESSAGES: Record<string, string> = {
  "60001": "Some fields are not valid.",
  "60010": "Your session has ended. Please sign in again.",
  "60011": "You do not have permission to do this.",
  "60012": "The sign-in service cannot be reached right now. Try again in a moment.",
  "60013": "You cannot grant more than you hold yourself.",
  "60014": "The service is temporarily unavailable. Try again in a moment.",
  "60015": "The change conflicted with another one. Try again.",
  "60016": "The service is busy. Try again in a moment.",
  "60201": "This employee no longer exists.",
  "60202": "An employee with this email already exists in this project.",
  "60301": "This project no longer exists.",
  "60302": "A project with this name already exists.",
  "60303": "The default project cannot be deleted.",
  "60401": "This API key no longer exists.",
  "60402": "An API key with this name already exists in this project.",
  "60403": "This key has expired: set a new expiration date before activating it.",
};

const CONNECT_MESSAGES: Partial<Record<Code, string>> = {
  [Code.InvalidArgument]: "Some fields are not valid.",
  [Code.NotFound]: "It no longer exists.",
  [Code.AlreadyExists]: "It already exists.",
  [Code.PermissionDenied]: "You do not have permission to do this.",
  [Code.Unauthenticated]: "Your session has ended. Please sign in again.",
  [Code.FailedPrecondition]: "This cannot be done in the current state.",
  [Code.Unavailable]: "The service is temporarily unavailable. Try again in a moment.",
  [Code.ResourceExhausted]: "The service is busy. Try again in a moment.",
  [Code.DeadlineExceeded]: "The service took too long to answer. Try again.",
  [Code.Unimplemented]: "This is not available on this server.",
  [Code.Unknown]: "The service cannot be reached. Check your connection.",
};

/** The 60xxx code and its meta, when the server attached one. */
export function appDetail(e: ConnectError): { code: string; meta: Record<string, string> } | undefined {
  const [detail] = e.findDetails(ErrorDetailSchema);
  return detail === undefined ? undefined : { code: detail.code, meta: detail.meta };
}

/** A sentence for the person at the screen. */
export function describeError(e: unknown): string {
  if (e instanceof BffError) {
    if (e.status === 503) return "The sign-in service is temporarily unavailable. Try again in a moment.";
    if (e.sessionEnded) return "Your session has ended. Please sign in again.";
    return e.message;
  }
  if (e instanceof ConnectError) {
    const detail = appDetail(e);
    const known = detail === undefined ? undefined : APP_MESSAGES[detail.code];
    return known ?? CONNECT_MESSAGES[e.code] ?? "Something went wrong. Try again.";
  }
  return "Something went wrong. Try again.";
}

const RULE_MESSAGES: Record<string, string> = {
  "string.email": "Enter a valid email address.",
  "string.min_len": "Too short.",
  "string.max_len": "Too long.",
  "string.pattern": "Contains characters that are not allowed.",
  "string.not_blank": "Must not be blank.",
  "string.no_nul": "Contains characters that are not allowed.",
  "enum.not_in": "Choose a value.",
  required: "Required.",
  "timestamp.gt_now": "Must be in the future.",
  "timestamp.within": "Too far in the future.",
};

/**
 * Messages per request field (`name`, `email`, …) from the buf.validate violations of an
 * InvalidArgument answer, and from the meta of a conflict that names its field (60202 email).
 */
export function fieldErrors(e: unknown): Record<string, string> {
  if (!(e instanceof ConnectError)) return {};
  const out: Record<string, string> = {};
  for (const violations of e.findDetails(ViolationsSchema)) {
    for (const v of violations.violations) {
      const field = (v.field?.elements ?? []).map((el) => el.fieldName).join(".");
      if (field === "" || out[field] !== undefined) continue;
      out[field] = RULE_MESSAGES[v.ruleId] ?? (v.message !== "" ? capitalized(v.message) : "Not valid.");
    }
  }
  const detail = appDetail(e);
  if (detail?.code === "60202") out["email"] ??= APP_MESSAGES["60202"]!;
  if (detail?.code === "60302" || detail?.code === "60402") out["name"] ??= APP_MESSAGES[detail.code]!;
  return out;
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith(".") ? "" : ".");
}
