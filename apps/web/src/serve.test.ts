import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "@altalune/core";
import { startWebServer, webRuntimeConfig, type WebServer } from "./serve.js";

let dist: string;
let server: WebServer;
const runtimeConfig = { apiUrl: "http://localhost:3100/api", authUrl: "http://localhost:3300", bffUrl: "http://localhost:3300", clientId: "6f1c2f4e-5d7a-4b8e-9c3d-2a1b0c9d8e7f" };

beforeAll(async () => {
  dist = await mkdtemp(join(tmpdir(), "altalune-web-"));
  await mkdir(join(dist, "assets"));
  await writeFile(join(dist, "index.html"), "<!doctype html><title>app</title>");
  await writeFile(join(dist, "assets", "index-abc123.js"), "console.log(1)");
  await writeFile(join(tmpdir(), "altalune-web-secret.txt"), "outside");
  server = await startWebServer({ distDir: dist, runtimeConfig, port: 0, host: "127.0.0.1" });
});

afterAll(async () => {
  await server?.close();
  await rm(dist, { recursive: true, force: true });
});

const get = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${server.port}${path}`, { redirect: "manual", ...init });

describe("web server", () => {
  it("serves config.json from the configuration, never cached", async () => {
    const res = await get("/config.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual(runtimeConfig);
  });

  it("answers app paths with index.html (no-cache) and hashed assets as immutable", async () => {
    for (const path of ["/", "/projects", "/auth/callback", "/projects/abc/employees"]) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(await res.text()).toContain("<title>app</title>");
    }
    const asset = await get("/assets/index-abc123.js");
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await get("/assets/missing.js")).status).toBe(404);
  });

  it("sends its security headers: scripts from itself, calls to the API and the BFF only, no framing, no Referer", async () => {
    const res = await get("/projects");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self' http://localhost:3100 http://localhost:3300;");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("refuses paths outside its directory and methods other than GET and HEAD", async () => {
    for (const path of ["/..%2faltalune-web-secret.txt", "/%2e%2e/altalune-web-secret.txt", "/assets/..%2f..%2faltalune-web-secret.txt", "/%00.js"]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(await res.text()).not.toContain("outside");
    }
    const post = await get("/config.json", { method: "POST", body: "{}" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });

  it("redirects another host name to the canonical origin (the one the cookies' site needs)", async () => {
    const canonical = await startWebServer({ distDir: dist, runtimeConfig, port: 0, host: "127.0.0.1", canonicalHost: "localhost" });
    try {
      const res = await fetch(`http://127.0.0.1:${canonical.port}/projects?page=2`, { redirect: "manual" });
      expect(res.status).toBe(308);
      expect(res.headers.get("location")).toBe(`http://localhost:${canonical.port}/projects?page=2`);
      expect(canonical.url).toBe(`http://localhost:${canonical.port}`);
      // The canonical host itself is served (node:http: fetch does not let a caller set Host).
      const status = await new Promise<number | undefined>((resolve, reject) => {
        request({ host: "127.0.0.1", port: canonical.port, path: "/projects", headers: { host: `localhost:${canonical.port}` } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        })
          .on("error", reject)
          .end();
      });
      expect(status).toBe(200);
    } finally {
      await canonical.close();
    }
  });
});

describe("development is one site", () => {
  it("the default issuer, allowed origins and redirect URIs all use localhost, following WEB_PORT", () => {
    const config = loadConfig({});
    expect(config.auth.issuer).toBe("http://localhost:3300");
    expect(config.webPort).toBe(3000);
    expect(config.allowedOrigins).toContain("http://localhost:3000");
    expect(config.dashboardClient.redirectUris).toContain("http://localhost:3000/auth/callback");
    const moved = loadConfig({ WEB_PORT: "4000", AUTH_PORT: "4300" });
    expect(moved.auth.issuer).toBe("http://localhost:4300");
    expect(moved.allowedOrigins).toEqual(["http://localhost:4000", "http://127.0.0.1:4000"]);
    expect(moved.dashboardClient.redirectUris).toContain("http://localhost:4000/auth/callback");
  });

  it("config.json for a configured system: the auth server is the BFF; none without a dashboard client", () => {
    const config = loadConfig({ DASHBOARD_CLIENT_ID: runtimeConfig.clientId });
    expect(webRuntimeConfig(config, "http://localhost:3100/api")).toEqual(runtimeConfig);
    expect(webRuntimeConfig(loadConfig({}), "http://localhost:3100/api")).toBeUndefined();
  });
});
