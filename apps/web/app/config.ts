/**
 * What the built app needs to know about its deployment, read at start from `/config.json`
 * beside index.html, so one build serves any environment (`altalune dev` writes it from the
 * environment; a deployment ships its own, see docs/web-client.md).
 */
export interface RuntimeConfig {
  /** Base URL of the Resources API's Connect endpoint, e.g. https://api.example.com/api. */
  apiUrl: string;
  /** The auth server's issuer URL (where /oauth/authorize lives). */
  authUrl: string;
  /** Where the BFF's /oauth/exchange, /refresh, /me and /logout live (the auth server in this system). */
  bffUrl: string;
  /** The first-party dashboard client's id (DASHBOARD_CLIENT_ID). */
  clientId: string;
  /** One of DASHBOARD_REDIRECT_URIS; default: this page's origin + /auth/callback. */
  redirectUri: string;
}

export class ConfigLoadError extends Error {
  override name = "ConfigLoadError";
}

const URL_FIELDS = ["apiUrl", "authUrl", "bffUrl"] as const;

export function parseRuntimeConfig(value: unknown, pageOrigin: string): RuntimeConfig {
  if (typeof value !== "object" || value === null) throw new ConfigLoadError("config.json must hold a JSON object");
  const record = value as Record<string, unknown>;
  const problems: string[] = [];
  const text = (name: string): string => {
    const v = record[name];
    if (typeof v !== "string" || v.trim() === "") {
      problems.push(`${name}: required (a non-empty string)`);
      return "";
    }
    return v.trim().replace(/\/+$/, "");
  };
  const urls = Object.fromEntries(URL_FIELDS.map((f) => [f, text(f)])) as Record<(typeof URL_FIELDS)[number], string>;
  for (const f of URL_FIELDS) if (urls[f] !== "" && !URL.canParse(urls[f])) problems.push(`${f}: "${urls[f]}" is not a URL`);
  const clientId = text("clientId");
  const redirect = record["redirectUri"];
  const redirectUri = typeof redirect === "string" && redirect !== "" ? redirect : `${pageOrigin}/auth/callback`;
  if (problems.length > 0) throw new ConfigLoadError(`config.json: ${problems.join("; ")}`);
  return { ...urls, clientId, redirectUri };
}
