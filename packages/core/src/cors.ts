/**
 * CORS with credentials for an exact allowlist of origins — the one implementation, used by the
 * Connect port (packages/rpc) and the BFF (apps/auth). A permitted origin gets its own value back
 * with credentials allowed (never `*`); any other origin gets no CORS headers, so the browser
 * blocks the response. A preflight is answered here: 204 with the methods and headers the caller
 * may use, or 403 without CORS headers.
 */
export interface CorsPolicy {
  origins: ReadonlySet<string>;
  /** Methods a preflight allows, e.g. "GET, POST". */
  allowMethods: string;
  /** Request headers a preflight allows. */
  allowHeaders: string;
  /** Response headers the page may read, if any beyond the safelisted ones. */
  exposeHeaders?: string;
  maxAgeSeconds: number;
}

export interface CorsAnswer {
  /** To set on the response (always `vary: origin`: the answer depends on it). */
  headers: [name: string, value: string][];
  /** For a preflight, its status: the request ends here. */
  preflightStatus?: 204 | 403;
}

export function corsAnswer(policy: CorsPolicy, origin: string | undefined, preflight: boolean): CorsAnswer {
  const permitted = origin !== undefined && origin !== "" && policy.origins.has(origin);
  const headers: [string, string][] = [["vary", "origin"]];
  if (permitted) {
    headers.push(["access-control-allow-origin", origin], ["access-control-allow-credentials", "true"]);
    if (policy.exposeHeaders !== undefined) headers.push(["access-control-expose-headers", policy.exposeHeaders]);
  }
  if (!preflight) return { headers };
  if (!permitted) return { headers, preflightStatus: 403 };
  headers.push(
    ["access-control-allow-methods", policy.allowMethods],
    ["access-control-allow-headers", policy.allowHeaders],
    ["access-control-max-age", String(policy.maxAgeSeconds)],
  );
  return { headers, preflightStatus: 204 };
}
