import type { Context } from "koa";
import type { UpstreamIdentity } from "./accounts.js";
import type { SocialRouteDeps } from "./deps.js";
import { createUpstreamLogin, type ConsumedUpstreamLogin, type UpstreamLoginOwner } from "./pending-logins.js";
import { UpstreamError, type UpstreamProvider } from "./upstream.js";

/**
 * The two trips to a provider that a sign-in and a link make alike. An UpstreamError is handed
 * back, not thrown: each flow words it its own way; anything else is a bug and is thrown.
 */
export function upstreamHops(deps: Pick<SocialRouteDeps, "sql" | "encryptionKey" | "upstream" | "redirectUriOf">) {
  const { sql, encryptionKey, upstream } = deps;
  return {
    /** Where to send the browser, the state, nonce and PKCE verifier kept for `owner`. */
    async begin(p: UpstreamProvider, owner: UpstreamLoginOwner): Promise<URL | UpstreamError> {
      let start;
      try {
        start = await upstream.begin(p, deps.redirectUriOf(p.slug));
      } catch (e) {
        if (e instanceof UpstreamError) return e;
        throw e;
      }
      await createUpstreamLogin(sql, encryptionKey, { state: start.state, owner, slug: p.slug, nonce: start.nonce, codeVerifier: start.codeVerifier });
      return start.url;
    },

    /** The provider's answer on this callback URL, checked against the login its state named. */
    async complete(ctx: Context, p: UpstreamProvider, state: string, login: ConsumedUpstreamLogin): Promise<UpstreamIdentity | UpstreamError> {
      try {
        return await upstream.complete(p, deps.redirectUriOf(p.slug), new URLSearchParams(ctx.querystring), { state, nonce: login.nonce, codeVerifier: login.codeVerifier });
      } catch (e) {
        if (e instanceof UpstreamError) return e;
        throw e;
      }
    },
  };
}
