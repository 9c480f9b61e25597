import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, type TracingHandle } from "@altalune/core";
import { ProjectService } from "@altalune/proto";
import { captureLogger } from "@altalune/test-kit";
import { startTestApi, type TestApi } from "./testing/api-harness.js";
import { newTraceparent, spanAttribute, type OtlpReceiver } from "./testing/otlp-receiver.js";
import { startTestTracing, type TestTracing } from "./testing/test-tracing.js";

// Tracing end to end: a real OTLP/HTTP receiver on an ephemeral port (the JSON the SDK's exporter
// sends, configured only by OTEL_EXPORTER_OTLP_ENDPOINT, as in production), a real API with a
// real database, calls that carry a W3C traceparent on Connect and on the grpc-js port.

let receiver: OtlpReceiver;
const attr = spanAttribute;
const traceparent = newTraceparent;

const log = captureLogger("info");
let api: TestApi;
let tracing: TracingHandle;
let traced: TestTracing;

beforeAll(async () => {
  traced = await startTestTracing("altalune-resources");
  ({ receiver, tracing } = traced);
  api = await startTestApi({}, { logger: log.logger });
});

afterAll(async () => {
  await api?.close();
  await traced?.close();
});

const spansOf = (traceId: string) => traced.spansOf(traceId);

describe("tracing", () => {
  it.each([
    ["connect-json", "connect_rpc"],
    ["grpc-js", "grpc"],
  ] as const)("a call with a traceparent over %s: RPC span (child of the caller) → auth span and DB spans, log lines carry the trace id", async (transport, system) => {
    expect(tracing.enabled).toBe(true);
    const parent = traceparent();
    const client = api.client(ProjectService, transport, { headers: { traceparent: parent.header } });
    await client.queryProjects({});
    const spans = await spansOf(parent.traceId);

    const rpc = spans.find((s) => s.name === "altalune.v1.ProjectService/QueryProjects");
    expect(rpc, JSON.stringify(spans.map((s) => s.name))).toBeDefined();
    if (rpc === undefined) return;
    expect(rpc.parentSpanId).toBe(parent.parentId);
    expect(rpc.kind).toBe(2); // SERVER
    expect(attr(rpc, "rpc.system")).toBe(system);
    expect(attr(rpc, "rpc.service")).toBe("altalune.v1.ProjectService");
    expect(attr(rpc, "rpc.method")).toBe("QueryProjects");
    if (system === "grpc") expect(attr(rpc, "rpc.grpc.status_code")).toBe(0);
    else expect(attr(rpc, "rpc.connect_rpc.error_code")).toBeUndefined();

    const auth = spans.find((s) => s.name === "altalune.auth");
    expect(auth?.parentSpanId).toBe(rpc.spanId);

    const db = spans.filter((s) => attr(s, "db.system.name") === "postgresql");
    expect(db.length).toBeGreaterThan(0);
    const inCall = new Set([rpc.spanId, auth?.spanId]);
    for (const s of db) {
      // Every statement hangs under the call: directly, under the auth step or under a transaction span of it.
      const parentSpan = spans.find((p) => p.spanId === s.parentSpanId);
      expect(inCall.has(s.parentSpanId) || (parentSpan !== undefined && inCall.has(parentSpan.parentSpanId)), s.name).toBe(true);
      expect(s.kind).toBe(3); // CLIENT
    }
    const selects = db.filter((s) => s.name === "SELECT");
    expect(selects.length).toBeGreaterThan(0);
    for (const s of selects) {
      const text = String(attr(s, "db.query.text"));
      expect(text).toMatch(/^\s*select/i);
      // Values are placeholders, never inlined: the caller's user id is not in the text.
      expect(text).not.toContain(api.superadmin.publicId);
    }

    const logged = log.records().filter((l) => l["trace_id"] === parent.traceId);
    const access = logged.find((l) => l["msg"] === "rpc" && l["method"] === "QueryProjects");
    expect(access?.["span_id"]).toBe(rpc.spanId);
    expect(receiver.services).toContain("altalune-resources");
    expect(receiver.problems).toEqual([]);
  });

  it("a mutation's transaction is a span under the RPC, parent of the statements inside it", async () => {
    const parent = traceparent();
    const client = api.client(ProjectService, "connect-binary", { headers: { traceparent: parent.header } });
    await client.createProject({ name: "Traced project", timezone: "UTC", environment: "sandbox" });
    const spans = await spansOf(parent.traceId);
    const rpc = spans.find((s) => s.name === "altalune.v1.ProjectService/CreateProject");
    const tx = spans.find((s) => s.name === "transaction");
    expect(tx?.parentSpanId).toBe(rpc?.spanId);
    const inside = spans.filter((s) => s.parentSpanId === tx?.spanId);
    expect(inside.map((s) => s.name)).toContain("INSERT");
    // The name was a bound value: no statement text carries it.
    expect(JSON.stringify(spans)).not.toContain("Traced project");
  });

  it("a verifier's first call fetches discovery and the JWKS: CLIENT spans under the auth step", async () => {
    // A second API on the same database and issuer: its verifier has fetched nothing yet.
    const fresh = await startTestApi({}, { db: api.db, issuer: api.issuer, logger: createLogger({ level: "silent" }) });
    try {
      const parent = traceparent();
      await fresh.client(ProjectService, "connect-json", { headers: { traceparent: parent.header } }).queryProjects({});
      const spans = await spansOf(parent.traceId);
      const auth = spans.find((s) => s.name === "altalune.auth");
      expect(auth, JSON.stringify(spans.map((s) => s.name))).toBeDefined();
      const client = spans.filter((s) => s.kind === 3 && attr(s, "db.system.name") === undefined);
      const discovery = client.find((s) => attr(s, "url.full") === `${api.issuer.url}/.well-known/openid-configuration`);
      const jwks = client.find((s) => attr(s, "url.full") === api.issuer.jwksUrl);
      for (const s of [discovery, jwks]) {
        expect(s, JSON.stringify(client.map((c) => attr(c, "url.full")))).toBeDefined();
        expect(s?.name).toBe("GET");
        expect(s?.parentSpanId).toBe(auth?.spanId);
        expect(s && attr(s, "http.response.status_code")).toBe(200);
        expect(s && attr(s, "server.port")).toBe(Number(new URL(api.issuer.url).port));
      }
    } finally {
      await fresh.close();
    }
  });

  it("a call without a traceparent starts its own trace", async () => {
    const before = receiver.spans.length;
    await api.client(ProjectService, "connect-json").queryProjects({});
    await tracing.flush();
    const rpc = receiver.spans.slice(before).find((s) => s.name === "altalune.v1.ProjectService/QueryProjects");
    expect(rpc).toBeDefined();
    expect(rpc?.parentSpanId ?? "").toBe("");
  });

  it("a refused call records its code on the RPC span and the auth span", async () => {
    const parent = traceparent();
    const client = api.client(ProjectService, "connect-json", { token: null, headers: { traceparent: parent.header } });
    await expect(client.queryProjects({})).rejects.toThrow();
    const spans = await spansOf(parent.traceId);
    const rpc = spans.find((s) => s.name === "altalune.v1.ProjectService/QueryProjects");
    expect(rpc && attr(rpc, "rpc.connect_rpc.error_code")).toBe("unauthenticated");
    expect(spans.find((s) => s.name === "altalune.auth")?.parentSpanId).toBe(rpc?.spanId);
  });
});
