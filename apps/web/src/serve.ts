import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import type { Config } from "@altalune/core";

/** What the app reads from /config.json (app/config.ts parses it). */
export interface WebRuntimeConfig {
  apiUrl: string;
  authUrl: string;
  bffUrl: string;
  clientId: string;
  redirectUri?: string;
}

/**
 * config.json for a system configured by `config`: the auth server is also the BFF; the API is
 * reached as `apiUrl`. Undefined without a dashboard client (nothing to sign in with).
 */
export function webRuntimeConfig(config: Config, apiUrl: string): WebRuntimeConfig | undefined {
  const clientId = config.dashboardClient.clientId;
  if (clientId === undefined) return undefined;
  return { apiUrl, authUrl: config.auth.issuer, bffUrl: config.auth.issuer, clientId };
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

export interface WebServerOptions {
  distDir: string;
  runtimeConfig: WebRuntimeConfig;
  port: number;
  host: string;
  /**
   * The host name the app must be opened on (`localhost`): requests for another one (127.0.0.1)
   * are redirected to http://<canonicalHost>:<port>, because only on the same site as the BFF and
   * the API does the browser send the session cookies.
   */
  canonicalHost?: string;
}

export interface WebServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

function originOf(url: string): string {
  return new URL(url).origin;
}

/**
 * Static files with the app's security headers. The policy allows scripts and styles from this
 * origin only, and network calls to this origin, the API and the BFF; the page may not be framed;
 * no Referer leaves the page (the callback URL holds the authorization code).
 */
function securityHeaders(cfg: WebRuntimeConfig): Record<string, string> {
  const connect = [...new Set(["'self'", originOf(cfg.apiUrl), originOf(cfg.bffUrl)])].join(" ");
  return {
    "content-security-policy": `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'`,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
  };
}

async function fileIn(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0")) return undefined;
  const path = normalize(join(root, decoded));
  if (path !== root && !path.startsWith(root + sep)) return undefined;
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? path : undefined;
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const root = normalize(opts.distDir);
  const headers = securityHeaders(opts.runtimeConfig);
  const configBody = JSON.stringify(opts.runtimeConfig);
  // Known once listening (the port may be 0).
  let canonical: URL | undefined;

  const send = (res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...headers, "content-type": type, ...extra });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain; charset=utf-8", "method not allowed\n", { allow: "GET, HEAD" });
    const url = new URL(req.url ?? "/", "http://web.invalid");
    if (canonical !== undefined && req.headers.host !== canonical.host) {
      res.writeHead(308, { ...headers, location: `${canonical.origin}${url.pathname}${url.search}` });
      return res.end();
    }
    if (url.pathname === "/config.json") return send(res, 200, TYPES[".json"]!, configBody, { "cache-control": "no-store" });
    let file = await fileIn(root, url.pathname);
    // Any other path without a file extension is a page of the single-page app.
    if (file === undefined && extname(url.pathname) === "") file = await fileIn(root, "/index.html");
    if (file === undefined) return send(res, 404, "text/plain; charset=utf-8", "not found\n");
    const hashed = url.pathname.startsWith("/assets/");
    res.writeHead(200, {
      ...headers,
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      // Vite names assets by content hash: they never change; index.html must be re-read.
      "cache-control": hashed ? "public, max-age=31536000, immutable" : "no-cache",
    });
    if (req.method === "HEAD") return res.end();
    createReadStream(file).pipe(res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error\n");
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  if (opts.canonicalHost !== undefined) canonical = new URL(`http://${opts.canonicalHost}:${port}`);
  return {
    url: canonical?.origin ?? `http://${opts.host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
