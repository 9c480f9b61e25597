import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, startTracing, type TracingHandle } from "@altalune/core";
import { newTraceparent, spanAttribute, startOtlpReceiver, type OtlpReceiver } from "../../resources/src/testing/otlp-receiver.js";
import { startTestAuth, type TestAuth } from "./testing/auth-harness.js";

// The auth server's request spans: a real server, a real OTLP/HTTP receiver, a token request
// that carries a traceparent.

let receiver: OtlpReceiver;
let tracing: TracingHandle;
let auth: TestAuth;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  tracing = await startTracing({ serviceName: "altalune-auth" });
  const logger = createLogger({ level: "info", destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } });
  auth = await startTestAuth({ server: { logger } });
});

afterAll(async () => {
  await auth?.close();
  await tracing?.shutdown();
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  await receiver?.close();
});

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
    await tracing.flush();
    const spans = receiver.spans.filter((s) => s.traceId === parent.traceId);
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
});
