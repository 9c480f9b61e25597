// What the pages say for each error or notice code. Handlers pass codes (often through a
// ?error= query parameter); the words live here, and an unknown code never reaches the page
// as is.

const ERRORS: Record<string, string> = {
  email_required: "Enter your email address.",
  invalid_email: "Enter a valid email address.",
  invalid_code: "That code is not correct. Check the email and try again.",
  expired: "That code has expired. Request a new one.",
  too_many_attempts: "Too many wrong attempts. Request a new code.",
  code_required: "Enter the 8-digit code from the email.",
  // The per-address budget of wrong guesses (same words whether or not the address has an account).
  guess_limit:
    "Too many wrong codes were entered for this address. Signing in with a code is paused in this browser for up to 24 hours; a browser you have signed in with before can still sign in.",
  rate_limited: "Too many requests. Please wait a few minutes and try again.",
  invalid_request: "Something was wrong with that request. Please start again.",
  session_expired: "This page has expired. Please try again.",
  invalid_csrf: "This page has expired. Please try again.",
  access_denied: "Access was denied.",
  account_not_activated: "Your account has not been activated yet.",
  invalid_provider: "That sign-in method is not available.",
  provider_disabled: "That sign-in method is currently disabled.",
  unsupported_provider: "That sign-in method is not supported.",
  invalid_state: "The sign-in attempt could not be verified. Please try again.",
  exchange_failed: "The sign-in provider did not complete the sign-in. Please try again.",
  server_error: "Something went wrong on our side. Please try again.",
};
// LoginCodes.verify's reasons, for handlers that pass them straight through.
ERRORS["invalid"] = ERRORS["invalid_code"]!;

const NOTICES: Record<string, string> = {
  code_sent: "We sent a new code.",
  verification_sent: "We sent you a new verification email.",
  already_verified: "Your email address is already verified.",
  verification_rate_limited: "Too many verification emails. Please wait a few minutes and try again.",
  verification_failed: "We could not send the verification email. Please try again later.",
};

const GENERIC_ERROR = "Something went wrong. Please try again.";

/** The message for an error code; undefined for no code; a generic message for an unknown one. */
export function errorMessage(code: string | undefined | null): string | undefined {
  if (code === undefined || code === null || code === "") return undefined;
  return Object.hasOwn(ERRORS, code) ? ERRORS[code] : GENERIC_ERROR;
}

/** The message for a notice code; undefined for no code or an unknown one. */
export function noticeMessage(code: string | undefined | null): string | undefined {
  if (code === undefined || code === null || code === "") return undefined;
  return Object.hasOwn(NOTICES, code) ? NOTICES[code] : undefined;
}

const SCOPES: Record<string, string> = {
  openid: "Verify your identity",
  profile: "Access your profile information (name)",
  email: "Access your email address",
  offline_access: "Access your data while you're offline",
};

/*
 * API scopes (the Resources API's system permissions) in the consent page's words. The words are
 * fixed here, never taken from the permission's editable description: an administrator must not
 * be able to make iam:write read as harmless.
 */

/**
 * Entity of a scope (`<entity>:<action>`) → its heading, and the noun its actions take where
 * that is not the heading itself (see nounOf).
 */
const API_ENTITIES: Record<string, { heading: string; noun?: string }> = {
  dashboard: { heading: "Dashboard", noun: "the dashboard" },
  project: { heading: "Projects" },
  member: { heading: "Project members" },
  employee: { heading: "Employees" },
  apikey: { heading: "Project API keys" },
  user: { heading: "Users" },
  role: { heading: "Roles" },
  permission: { heading: "Permissions" },
  iam: { heading: "Access control", noun: "role and permission assignments" },
  client: { heading: "Applications (OAuth clients)", noun: "applications (OAuth clients) and their secrets" },
  provider: { heading: "Sign-in providers" },
  chatbot: { heading: "Chatbot", noun: "chatbot settings" },
  audit: { heading: "Audit log", noun: "the audit log" },
};

/** The noun an entity's actions take: its own, or its heading in running text ("Projects" → "projects"). */
const nounOf = (entity: { heading: string; noun?: string }): string => entity.noun ?? entity.heading.charAt(0).toLowerCase() + entity.heading.slice(1);

const API_SCOPE_TEXTS: Record<string, string> = {
  "dashboard:read": "See the dashboard and the projects you are a member of",
  "iam:read": "See who holds which roles and permissions",
  "iam:write": "Change users and their roles and permissions",
  "member:write": "Add and remove project members and change their project roles",
};

const ACTION_TEXTS: Record<string, (noun: string) => string> = {
  read: (noun) => `Read ${noun}`,
  write: (noun) => `Create and change ${noun}`,
  delete: (noun) => `Delete ${noun}`,
};

/** Changing these can hand out access or take over accounts: the consent page marks it. */
const SENSITIVE_ENTITIES = new Set(["iam", "user", "role", "permission", "member", "client", "provider"]);

export interface ApiScopeText {
  scope: string;
  /** The group heading (the entity). */
  heading: string;
  text: string;
  dangerous: boolean;
}

/** An API scope in words; a scope this table does not know yet still gets a plain, honest line. */
export function describeApiScope(scope: string): ApiScopeText {
  const [entity = "", action = ""] = scope.split(":", 2);
  const known = Object.hasOwn(API_ENTITIES, entity) ? API_ENTITIES[entity] : undefined;
  const byAction = Object.hasOwn(ACTION_TEXTS, action) ? ACTION_TEXTS[action] : undefined;
  const text = Object.hasOwn(API_SCOPE_TEXTS, scope)
    ? API_SCOPE_TEXTS[scope]!
    : known !== undefined && byAction !== undefined
      ? byAction(nounOf(known))
      : `Use the API permission ${scope}`;
  return {
    scope,
    heading: known?.heading ?? "Other",
    text,
    dangerous: (action === "write" || action === "delete") && SENSITIVE_ENTITIES.has(entity),
  };
}

/** Whether the table above has words of its own for the scope (a test holds every API scope to it). */
export const hasApiScopeText = (scope: string): boolean => {
  const [entity = "", action = ""] = scope.split(":", 2);
  return Object.hasOwn(API_SCOPE_TEXTS, scope) || (Object.hasOwn(API_ENTITIES, entity) && Object.hasOwn(ACTION_TEXTS, action));
};

/** What a scope lets the client do, in the consent page's words; unknown scopes show their name. */
export function describeScope(name: string): string {
  return Object.hasOwn(SCOPES, name) ? SCOPES[name]! : name;
}

export const VERIFY_EMAIL_REASONS: Record<"missing" | "invalid" | "expired_or_used", string> = {
  missing: "The verification link is incomplete. Open the link from the email again.",
  invalid: "This verification link is not valid.",
  expired_or_used: "This verification link has expired or has already been used. Sign in to request a new one.",
};
