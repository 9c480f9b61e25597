import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";
import { startTracing, trace, tracingActive, tracingRequested } from "./tracing.js";

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
