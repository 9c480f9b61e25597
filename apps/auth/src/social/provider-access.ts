import type { Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { findProviderBySlug, ProviderConfigError } from "@altalune/oauth-tables";
import { RESERVED_IDENTITY_PROVIDERS } from "./login-providers.js";
import type { UpstreamError, UpstreamProvider } from "./upstream.js";

/** What the person is told when a provider cannot be used or failed (shared by sign-in and linking). */
export interface ProviderProblem {
  status: 400 | 502;
  title: string;
  message: string;
}

/** An enabled provider this server can drive, or the problem to show. */
export async function usableProvider(
  deps: { sql: Sql; encryptionKey: Buffer; logger: Logger },
  slug: string,
): Promise<{ ok: true; provider: UpstreamProvider } | { ok: false; problem: ProviderProblem }> {
  let p: UpstreamProvider | undefined;
  try {
    p = RESERVED_IDENTITY_PROVIDERS.has(slug.toLowerCase()) ? undefined : await findProviderBySlug(deps.sql, slug, deps.encryptionKey);
  } catch (e) {
    if (!(e instanceof ProviderConfigError)) throw e;
    deps.logger.error({ provider: e.slug, reason: e.reason }, "upstream provider secret unusable");
    return { ok: false, problem: { status: 502, title: "Sign-in provider unavailable", message: "This sign-in provider is not configured correctly. Use another way to sign in." } };
  }
  if (!p || !p.enabled) {
    return { ok: false, problem: { status: 400, title: "Sign-in provider unavailable", message: "This sign-in provider does not exist or is turned off. Use another way to sign in." } };
  }
  return { ok: true, provider: p };
}

export function upstreamProblem(p: UpstreamProvider, e: UpstreamError): ProviderProblem {
  const name = p.displayName;
  switch (e.kind) {
    case "unsupported":
      return { status: 400, title: "Sign-in provider unavailable", message: `Signing in with ${name} is not supported yet. Use another way to sign in.` };
    case "unavailable":
      return { status: 502, title: "Sign-in provider unavailable", message: `${name} could not be reached or gave an unusable answer. Try again later or use another way to sign in.` };
    case "refused":
      return { status: 400, title: "Sign-in failed", message: `${name} refused the sign-in${e.oauthError ? ` (${e.oauthError})` : ""}. Try again.` };
    case "invalid":
      return { status: 400, title: "Sign-in could not be verified", message: `The answer from ${name} could not be verified. Try again.` };
  }
}
