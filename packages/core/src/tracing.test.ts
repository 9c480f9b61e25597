import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";
import { errorType, inClientSpan, injectTraceHeaders, redactedUrl, startTracing, trace, tracedFetch, tracingActive, tracingRequested } from "./tracing.js";

// Without the OTel variables tracing is off: no SDK, the API's no-op tracer, no log fields.
describe("tracing off", () => {
  it("no endpoint (or OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER=none): nothing started, spans are no-ops, logs carry no trace fields", async () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" })).toBe(true);

    const handle = await startTracing({ serviceName: "t", env: {} });
    expect(handle.enabled).toBe(false);
    expect(tracingActive()).toBe(false);
    const span = trace.getTracer("t").startSpan("x");
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).toBe("00000000000000000000000000000000");

    const lines: string[] = [];
    const logger = createLogger({ level: "info", destination: { write: (s: string) => void lines.push(s) } });
    trace.getTracer("t").startActiveSpan("y", (s) => {
      logger.info({ a: 1 }, "inside");
      s.end();
    });
    const line = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>;
    expect(line["a"]).toBe(1);
    expect(line).not.toHaveProperty("trace_id");
  });
});

describe("outgoing requests", () => {
  it("tracing off: no header is injected, the fetch is passed through unchanged, the client span does not record", async () => {
    expect(injectTraceHeaders({ accept: "application/json" })).toEqual({ accept: "application/json" });
    const seen: Array<[string | URL, RequestInit | undefined]> = [];
    const init = { method: "POST", headers: { a: "1" } };
    const res = await tracedFetch(async (input, i) => (seen.push([input, i]), new Response("ok")))("http://peer.test/x", init);
    expect(await res.text()).toBe("ok");
    // The very same init object: no copy, no headers added.
    expect(seen[0]?.[1]).toBe(init);
    expect(await inClientSpan("x", {}, async (span) => span.isRecording())).toBe(false);
  });

  it("url.full: credentials and every query value redacted, names kept, no fragment", () => {
    expect(redactedUrl(new URL("https://idp.test/token"))).toBe("https://idp.test/token");
    expect(redactedUrl(new URL("https://u:p@idp.test:8443/cb?code=abc&state=xyz&code=again#frag"))).toBe("https://REDACTED:REDACTED@idp.test:8443/cb?code=REDACTED&state=REDACTED");
    expect(redactedUrl(new URL("http://127.0.0.1/a?access%20token=s"))).toBe("http://127.0.0.1/a?access%20token=REDACTED");
  });

  it("error.type: the system code, the cause's code (fetch failed), else the class name; never the message", () => {
    expect(errorType(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }))).toBe("ECONNREFUSED");
    expect(errorType(new TypeError("fetch failed", { cause: Object.assign(new Error("x"), { code: "ENOTFOUND" }) }))).toBe("ENOTFOUND");
    expect(errorType(new DOMException("The operation was aborted due to timeout", "TimeoutError"))).toBe("TimeoutError");
    expect(errorType(new RangeError("secret value 123"))).toBe("RangeError");
    expect(errorType("a string")).toBe("_OTHER");
  });
});
