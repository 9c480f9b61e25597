import { BFF_PATH, BFF_ROUTES } from "../bff/index.js";
import { problemBody } from "../bff/problem.js";
import { ROUTES } from "../provider/configuration.js";
import { unavailablePage } from "../views/index.js";
import { UNAVAILABLE_DESCRIPTIONS, type UnavailableCause } from "./unavailable.js";

/** Paths answered with OAuth JSON errors (token, introspection, revocation, userinfo, PAR…). */
const OAUTH_JSON_PATHS: ReadonlySet<string> = new Set([
  ROUTES.token,
  ROUTES.introspection,
  ROUTES.revocation,
  ROUTES.userinfo,
  ROUTES.pushed_authorization_request,
  ROUTES.jwks,
  "/.well-known/openid-configuration",
]);
/** The BFF's paths, answered with problem+json. */
const BFF_PATHS: ReadonlySet<string> = new Set(BFF_ROUTES.map((path) => `${BFF_PATH}${path}`));

export interface UnavailableAnswer {
  contentType: string;
  body: string;
}

const JSON_TYPE = "application/json; charset=utf-8";
const HTML_TYPE = "text/html; charset=utf-8";

// Both non-page forms are the same bytes on every refusal: built once.
const PROBLEMS = answersByCause((cause) => ({
  contentType: "application/problem+json",
  body: problemBody(503, "temporarily_unavailable", UNAVAILABLE_DESCRIPTIONS[cause]),
}));
const OAUTH_ERRORS = answersByCause((cause) => ({
  contentType: JSON_TYPE,
  body: JSON.stringify({ error: "temporarily_unavailable", error_description: UNAVAILABLE_DESCRIPTIONS[cause] }),
}));

/**
 * The body of a 503 in the form the caller understands: problem+json at the BFF, OAuth JSON
 * `temporarily_unavailable` at the OAuth endpoints and for callers preferring JSON, and
 * otherwise the "temporarily unavailable, try again" page (a browser). One definition for the
 * in-flight gate in front of Koa and for the availability middleware inside it.
 */
export function unavailableAnswer(
  cause: UnavailableCause,
  request: { path: string; prefersJson: () => boolean },
  page: { brand: string; nonce?: string; retryHref?: string },
): UnavailableAnswer {
  if (BFF_PATHS.has(request.path)) return PROBLEMS[cause];
  if (OAUTH_JSON_PATHS.has(request.path) || request.prefersJson()) return OAUTH_ERRORS[cause];
  return { contentType: HTML_TYPE, body: String(unavailablePage(page)) };
}

function answersByCause(build: (cause: UnavailableCause) => UnavailableAnswer): Record<UnavailableCause, UnavailableAnswer> {
  return { database: build("database"), overloaded: build("overloaded") };
}
