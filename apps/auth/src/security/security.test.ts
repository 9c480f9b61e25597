import { randomBytes } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Koa from "koa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCsrfToken, verifyCsrfToken } from "./csrf.js";
import { readForm } from "./form.js";
import { freshNonce, securityHeaders } from "./headers.js";

describe("CSRF tokens", () => {
  const secret = randomBytes(32);
  const t0 = Date.parse("2030-01-01T00:00:00Z");

  it("verify for the same secret and binding within an hour", () => {
    const token = issueCsrfToken(secret, "interaction:abc", t0);
    expect(token).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyCsrfToken(secret, "interaction:abc", token, t0)).toBe(true);
    expect(verifyCsrfToken(secret, "interaction:abc", token, t0 + 3600_000)).toBe(true);
    expect(verifyCsrfToken(secret, "interaction:abc", token, t0 + 3601_000)).toBe(false);
    // Issued (per a replica's clock) slightly in the future: tolerated up to a minute.
    expect(verifyCsrfToken(secret, "interaction:abc", token, t0 - 60_000)).toBe(true);
    expect(verifyCsrfToken(secret, "interaction:abc", token, t0 - 61_000)).toBe(false);
  });

  it("refuse another binding, another secret, tampering and garbage", () => {
    const token = issueCsrfToken(secret, "interaction:abc", t0);
    expect(verifyCsrfToken(secret, "interaction:abd", token, t0)).toBe(false);
    expect(verifyCsrfToken(randomBytes(32), "interaction:abc", token, t0)).toBe(false);
    const [ts, mac] = token.split(".") as [string, string];
    // A later timestamp with the old MAC (trying to extend the lifetime).
    expect(verifyCsrfToken(secret, "interaction:abc", `${(Number.parseInt(ts, 36) + 1).toString(36)}.${mac}`, t0)).toBe(false);
    const flipped = mac.slice(0, 10) + (mac[10] === "A" ? "B" : "A") + mac.slice(11);
    expect(verifyCsrfToken(secret, "interaction:abc", `${ts}.${flipped}`, t0)).toBe(false);
    for (const junk of [undefined, null, "", ".", "abc", `${ts}.`, `${ts}.${mac}x`, `-1.${mac}`, `${ts}.${mac}.x`]) {
      expect(verifyCsrfToken(secret, "interaction:abc", junk, t0)).toBe(false);
    }
    expect(verifyCsrfToken(secret, "", token, t0)).toBe(false);
    expect(() => issueCsrfToken(secret, "")).toThrow(/binding/);
  });
});

let server: Server;
let base: string;

beforeAll(async () => {
  const app = new Koa();
  app.use(securityHeaders());
  app.use(async (ctx, next) => {
    if (ctx.path === "/nonce") {
      ctx.body = String(ctx.state["cspNonce"]);
      return;
    }
    if (ctx.path === "/form-action") {
      ctx.state["cspFormAction"] = ["'self'", "https://client.example"];
      ctx.body = "ok";
      return;
    }
    if (ctx.path === "/form") {
      const form = await readForm(ctx, 64);
      ctx.body = JSON.stringify([...form]);
      return;
    }
    await next();
  });
  server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

describe("securityHeaders", () => {
  it("draws nonces from pooled entropy without ever repeating one, across pool refills", () => {
    const nonces = Array.from({ length: 1000 }, freshNonce);
    expect(new Set(nonces).size).toBe(1000);
    for (const n of nonces) expect(Buffer.from(n, "base64")).toHaveLength(16);
  });

  it("sets CSP with a fresh nonce per request, and the other headers", async () => {
    const a = await fetch(`${base}/nonce`);
    const b = await fetch(`${base}/nonce`);
    const nonceA = await a.text();
    const nonceB = await b.text();
    expect(nonceA).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(nonceA).not.toBe(nonceB);
    const csp = a.headers.get("content-security-policy")!;
    expect(csp).toBe(
      `default-src 'none'; script-src 'nonce-${nonceA}'; style-src 'nonce-${nonceA}'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'`,
    );
    expect(csp).not.toContain("form-action");
    expect(a.headers.get("x-content-type-options")).toBe("nosniff");
    expect(a.headers.get("referrer-policy")).toBe("no-referrer");
    expect(a.headers.get("x-frame-options")).toBe("DENY");
    expect(a.headers.get("strict-transport-security")).toBeNull();
    // Headers are set on responses the app did not handle, too.
    const missing = await fetch(`${base}/nothing-here`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-security-policy")).toContain("default-src 'none'");
  });

  it("lets a handler set form-action for its response", async () => {
    const res = await fetch(`${base}/form-action`);
    expect(res.headers.get("content-security-policy")).toContain("form-action 'self' https://client.example;");
  });

  it("adds HSTS in production", async () => {
    const app = new Koa();
    app.use(securityHeaders({ production: true, formAction: ["'self'"] }));
    const s = createServer(app.callback());
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/`);
      expect(res.headers.get("strict-transport-security")).toBe("max-age=31536000; includeSubDomains");
      expect(res.headers.get("content-security-policy")).toContain("form-action 'self';");
    } finally {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });
});

/** A raw request, so the test controls framing (chunked bodies, lying lengths). */
function post(body: string | string[], headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/form`, { method: "POST", headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    for (const part of Array.isArray(body) ? body : [body]) req.write(part);
    req.end();
  });
}

describe("readForm", () => {
  const urlencoded = { "content-type": "application/x-www-form-urlencoded; charset=utf-8" };

  it("parses an urlencoded form", async () => {
    const res = await post("email=Ada%40example.com&code=12+34&csrf_token=a.b&x=%C3%A9", urlencoded);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual([
      ["email", "Ada@example.com"],
      ["code", "12 34"],
      ["csrf_token", "a.b"],
      ["x", "é"],
    ]);
  });

  it("refuses other content types with 415", async () => {
    expect((await post('{"email":"a"}', { "content-type": "application/json" })).status).toBe(415);
    expect((await post("email=a", {})).status).toBe(415);
    expect((await post("--b", { "content-type": "multipart/form-data; boundary=b" })).status).toBe(415);
  });

  it("refuses bodies over the limit with 413, by declared length or while streaming", async () => {
    expect((await post("a=" + "x".repeat(100), urlencoded)).status).toBe(413);
    // Chunked (no Content-Length): stopped once the limit is passed.
    const chunked = await post(["a=", "x".repeat(40), "y".repeat(40)], { ...urlencoded, "transfer-encoding": "chunked" });
    expect(chunked.status).toBe(413);
    expect((await post("a=" + "x".repeat(62), urlencoded)).status).toBe(200);
  });

  it("refuses NUL characters with 400", async () => {
    expect((await post("email=a%00b", urlencoded)).status).toBe(400);
  });
});
