import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiForAuth } from "./testing/api-for-auth.js";
import { guardedFetch, OutboundPolicy, trace, type TracingHandle } from "@altalune/core";
import { captureLogger } from "@altalune/test-kit";
import {
  newTraceparent,
  spanAttribute,
  startTestTracing,
  TEST_ENV,
  type OtlpReceiver,
  type OtlpSpan,
  type TestApi,
  type TestTracing,
} from "@altalune/resources/testing";
import { SmtpMailer } from "./mail/mailer.js";
import { freePort, startTestAuth, type TestAuth } from "./testing/auth-harness.js";
import { Browser } from "./testing/browser.js";
import { authorizationUrl, browserLogin, relyingParty } from "./testing/login-flow.js";

// The auth server's spans and its outgoing ones: a real server (with the BFF, on a database the
// Resources API harness seeded with the dashboard client and the superadmin), a real OTLP/HTTP
// receiver, a real SMTP receiver, real HTTP peers that record the traceparent they are sent.

const ORIGIN = "http://localhost:3000";
const REDIRECT_URI = `${ORIGIN}/auth/callback`;
const CLIENT = 3;
const SERVER = 2;
const ERROR = 2;

let receiver: OtlpReceiver;
let tracing: TracingHandle;
let auth: TestAuth;
let api: TestApi;
let traced: TestTracing;

beforeAll(async () => {
  traced = await startTestTracing("altalune-auth");
  ({ receiver, tracing } = traced);
  const { logger } = captureLogger("info");
  auth = await startTestAuth({
    env: { DASHBOARD_CLIENT_ID: TEST_ENV["DASHBOARD_CLIENT_ID"]!, DASHBOARD_CLIENT_SECRET: TEST_ENV["DASHBOARD_CLIENT_SECRET"]!, ALLOWED_ORIGINS: ORIGIN },
    server: { logger },
  });
  // Seeds the dashboard client and the superadmin into the auth server's database.
  api = await startApiForAuth(auth, ORIGIN);
});

afterAll(async () => {
  await api?.close();
  await auth?.close();
  await traced?.close();
});

const spansOf = (traceId: string): Promise<OtlpSpan[]> => traced.spansOf(traceId);

/** A test's own span as the parent of what runs inside `run`. */
async function underTestSpan<T>(run: () => Promise<T>): Promise<{ result: T; traceId: string; spanId: string }> {
  return trace.getTracer("test").startActiveSpan("test", async (span) => {
    try {
      const result = await run();
      return { result, ...span.spanContext() };
    } finally {
      span.end();
    }
  });
}

/** A W3C traceparent's trace and span ids. */
function parseTraceparent(header: string | string[] | undefined): { traceId: string; spanId: string } | undefined {
  const m = typeof header === "string" ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(header) : null;
  return m ? { traceId: m[1]!, spanId: m[2]! } : undefined;
}

describe("auth server tracing", () => {
  it("a token request with a traceparent: a SERVER span by route pattern, child of the caller, with its statements under it", async () => {
    const parent = newTraceparent();
    const res = await fetch(`${auth.server.url}/oauth/token`, {
      method: "POST",
      headers: { traceparent: parent.header, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: "no-such-client", client_secret: "s3cr3t-value" }),
    });
    expect(res.status).toBe(401);
    await res.text();
    const spans = await spansOf(parent.traceId);
    const server = spans.find((s) => s.name === "POST /oauth/token");
    expect(server, JSON.stringify(spans.map((s) => s.name))).toBeDefined();
    expect(server?.parentSpanId).toBe(parent.parentId);
    expect(server && spanAttribute(server, "http.response.status_code")).toBe(401);
    const db = spans.filter((s) => spanAttribute(s, "db.system.name") === "postgresql");
    expect(db.length).toBeGreaterThan(0);
    const ids = new Set(spans.map((s) => s.spanId));
    for (const s of db) expect(ids.has(s.parentSpanId ?? "")).toBe(true);
    // No value in any span: the client id and secret were bound parameters.
    expect(JSON.stringify(spans)).not.toContain("s3cr3t-value");
    expect(JSON.stringify(spans)).not.toContain("no-such-client");
    expect(receiver.services).toContain("altalune-auth");
  });

  it("the BFF's code exchange is one trace: BFF request → CLIENT span → token endpoint → its statements", async () => {
    const dashboard = { clientId: TEST_ENV["DASHBOARD_CLIENT_ID"]!, clientSecret: TEST_ENV["DASHBOARD_CLIENT_SECRET"]!, redirectUri: REDIRECT_URI };
    const rp = await relyingParty(auth.issuer, dashboard);
    const start = await authorizationUrl(rp, dashboard, { scope: "openid profile email offline_access" });
    const browser = new Browser(auth.issuer);
    const { callback } = await browserLogin(browser, auth.smtp, start, api.superadmin.email);
    const code = callback.searchParams.get("code")!;

    const parent = newTraceparent();
    const exchanged = await browser.request(`${auth.issuer}/oauth/exchange`, {
      method: "POST",
      headers: { origin: ORIGIN, traceparent: parent.header },
      json: { code, code_verifier: start.verifier, redirect_uri: REDIRECT_URI },
    });
    expect(exchanged.status).toBe(200);
    const spans = await spansOf(parent.traceId);
    const names = JSON.stringify(spans.map((s) => `${s.name} ${s.spanId} ← ${s.parentSpanId}`));

    const bff = spans.find((s) => s.name === "POST /oauth/exchange");
    expect(bff, names).toBeDefined();
    expect(bff?.kind).toBe(SERVER);
    expect(bff?.parentSpanId).toBe(parent.parentId);

    const tokenUrl = `${auth.issuer}/oauth/token`;
    const client = spans.find((s) => s.kind === CLIENT && spanAttribute(s, "url.full") === tokenUrl);
    expect(client, names).toBeDefined();
    expect(client?.name).toBe("POST");
    expect(client?.parentSpanId).toBe(bff?.spanId);
    expect(client && spanAttribute(client, "http.request.method")).toBe("POST");
    expect(client && spanAttribute(client, "server.address")).toBe("127.0.0.1");
    expect(client && spanAttribute(client, "server.port")).toBe(auth.server.port);
    expect(client && spanAttribute(client, "http.response.status_code")).toBe(200);

    const endpoint = spans.find((s) => s.name === "POST /oauth/token");
    expect(endpoint, names).toBeDefined();
    expect(endpoint?.kind).toBe(SERVER);
    expect(endpoint?.parentSpanId).toBe(client?.spanId);
    const underEndpoint = new Set([endpoint?.spanId, ...spans.filter((s) => s.parentSpanId === endpoint?.spanId && s.name === "transaction").map((s) => s.spanId)]);
    const statements = spans.filter((s) => spanAttribute(s, "db.system.name") === "postgresql" && underEndpoint.has(s.parentSpanId));
    expect(statements.length, names).toBeGreaterThan(0);

    // Nothing secret is in any span: the code, the verifier, the client secret, the tokens.
    const text = JSON.stringify(spans);
    for (const secret of [code, start.verifier, TEST_ENV["DASHBOARD_CLIENT_SECRET"]!, browser.cookie("access_token")!]) expect(text).not.toContain(secret);
    expect(receiver.problems).toEqual([]);
  });

  it("the login code mail: an SMTP CLIENT span inside the request that sent it, without address, subject or content", async () => {
    const email = api.superadmin.email;
    const before = receiver.spans.length;
    const dashboard = { clientId: TEST_ENV["DASHBOARD_CLIENT_ID"]!, clientSecret: TEST_ENV["DASHBOARD_CLIENT_SECRET"]!, redirectUri: REDIRECT_URI };
    const start = await authorizationUrl(await relyingParty(auth.issuer, dashboard), dashboard);
    await browserLogin(new Browser(auth.issuer), auth.smtp, start, email);
    await tracing.flush();
    const spans = receiver.spans.slice(before);
    const smtp = spans.find((s) => s.name === "SMTP send");
    expect(smtp, JSON.stringify(spans.map((s) => s.name))).toBeDefined();
    if (smtp === undefined) return;
    expect(smtp.kind).toBe(CLIENT);
    expect(spanAttribute(smtp, "network.protocol.name")).toBe("smtp");
    expect(spanAttribute(smtp, "server.address")).toBe("127.0.0.1");
    expect(spanAttribute(smtp, "server.port")).toBe(Number(new URL(auth.smtp.url).port));
    expect(spanAttribute(smtp, "altalune.smtp.reply_code")).toBe(250);
    const request = spans.find((s) => s.spanId === smtp.parentSpanId);
    expect(request?.kind).toBe(SERVER);
    expect(request?.name).toMatch(/^POST \/interaction\/:uid\//);
    const mail = auth.smtp.messages.filter((m) => m.to === email).at(-1)!;
    const code = /\b(\d{8})\b/.exec(mail.text)![1]!;
    const text = JSON.stringify(smtp);
    for (const secret of [email, code, mail.subject]) expect(text).not.toContain(secret);
  });

  it("an SMTP send that fails: the span is an error with nodemailer's code, under the caller's span", async () => {
    const closed = await freePort();
    const mailer = new SmtpMailer(`smtp://127.0.0.1:${closed}`, "noreply@example.test");
    const { traceId, spanId } = await underTestSpan(async () => {
      await expect(mailer.send({ to: "nobody@example.test", subject: "s", text: "t", html: "<p>t</p>" })).rejects.toThrow();
    });
    await mailer.close();
    const smtp = (await spansOf(traceId)).find((s) => s.name === "SMTP send");
    expect(smtp?.parentSpanId).toBe(spanId);
    expect(smtp?.status?.code).toBe(ERROR);
    expect(smtp && spanAttribute(smtp, "error.type")).toMatch(/^E[A-Z]+$/);
    expect(smtp && spanAttribute(smtp, "server.port")).toBe(closed);
    expect(JSON.stringify(smtp)).not.toContain("nobody@example.test");
  });
});

describe("guarded fetch (upstream identity providers) tracing", () => {
  let peer: Server;
  let peerUrl: string;
  const received: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  beforeAll(async () => {
    peer = createServer((req, res) => {
      received.push({ url: req.url ?? "", headers: req.headers });
      if (req.url?.startsWith("/moved")) res.writeHead(302, { location: "/token?code=second-hop-secret" }).end();
      else if (req.url?.startsWith("/broken")) res.writeHead(503).end();
      else res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    await new Promise<void>((resolve) => peer.listen(0, "127.0.0.1", resolve));
    peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => peer.close(() => resolve()));
  });

  // Development rules: plain http to loopback is allowed (as for a local IdP).
  const fetchUpstream = guardedFetch(new OutboundPolicy(false));

  it("one CLIENT span per hop with the HTTP conventions; each hop's traceparent is that hop's span; query values redacted", async () => {
    received.length = 0;
    const { result: res, traceId, spanId } = await underTestSpan(() =>
      fetchUpstream(`${peerUrl}/moved?client_secret=first-hop-secret&state=abc`, { method: "POST", body: "x=1", redirect: "follow" }),
    );
    expect(res.status).toBe(200);
    await res.text();
    const spans = (await spansOf(traceId)).filter((s) => s.kind === CLIENT);
    expect(spans).toHaveLength(2);
    const [first, second] = [...spans].sort((a, b) => (spanAttribute(a, "http.request.resend_count") ?? 0) < (spanAttribute(b, "http.request.resend_count") ?? 0) ? -1 : 1);
    for (const s of [first!, second!]) {
      expect(s.parentSpanId).toBe(spanId);
      expect(spanAttribute(s, "server.address")).toBe("127.0.0.1");
      expect(spanAttribute(s, "server.port")).toBe(Number(new URL(peerUrl).port));
    }
    expect(first!.name).toBe("POST");
    expect(spanAttribute(first!, "url.full")).toBe(`${peerUrl}/moved?client_secret=REDACTED&state=REDACTED`);
    expect(spanAttribute(first!, "http.response.status_code")).toBe(302);
    expect(spanAttribute(first!, "http.request.resend_count")).toBeUndefined();
    // 302 after a POST is followed with a GET.
    expect(second!.name).toBe("GET");
    expect(spanAttribute(second!, "url.full")).toBe(`${peerUrl}/token?code=REDACTED`);
    expect(spanAttribute(second!, "http.response.status_code")).toBe(200);
    expect(spanAttribute(second!, "http.request.resend_count")).toBe(1);

    // What the peer received: each request names its own hop's span as parent.
    expect(received.map((r) => parseTraceparent(r.headers["traceparent"]))).toEqual([
      { traceId, spanId: first!.spanId },
      { traceId, spanId: second!.spanId },
    ]);
    const text = JSON.stringify(spans);
    expect(text).not.toContain("first-hop-secret");
    expect(text).not.toContain("second-hop-secret");
  });

  it("an error answer and a refused request are error spans (error.type: the status, the refusal's code)", async () => {
    const { traceId } = await underTestSpan(async () => {
      const res = await fetchUpstream(`${peerUrl}/broken`);
      expect(res.status).toBe(503);
      // Production rules: plain http is refused before anything is sent.
      await expect(guardedFetch(new OutboundPolicy(true))(`${peerUrl}/never`)).rejects.toThrow(/refusing plain http/);
    });
    const spans = (await spansOf(traceId)).filter((s) => s.kind === CLIENT);
    const broken = spans.find((s) => String(spanAttribute(s, "url.full")).endsWith("/broken"));
    expect(broken?.status?.code).toBe(ERROR);
    expect(broken && spanAttribute(broken, "error.type")).toBe("503");
    const refused = spans.find((s) => String(spanAttribute(s, "url.full")).endsWith("/never"));
    expect(refused?.status?.code).toBe(ERROR);
    expect(refused && spanAttribute(refused, "error.type")).toBe("ERR_OUTBOUND_REFUSED");
    expect(refused && spanAttribute(refused, "http.response.status_code")).toBeUndefined();
    expect(received.some((r) => r.url === "/never")).toBe(false);
  });
});
