import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer,
} from "@opentelemetry/api";

// OpenTelemetry tracing (docs/observability.md "Tracing"). The API package is always loaded (it
// is a few no-op objects); the SDK, the OTLP exporter and the AsyncLocalStorage context manager
// are imported only when an endpoint is configured. Instrumented code checks `tracingActive()`
// (one boolean) before doing any tracing work, so with tracing off the call path is unchanged.

export { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer };

let active = false;

/** True once startTracing started an SDK in this process (and until its shutdown). */
export function tracingActive(): boolean {
  return active;
}

export interface TracingHandle {
  /** Whether spans are recorded and exported (an OTLP endpoint was configured). */
  readonly enabled: boolean;
  /** Sends what is buffered (tests, before reading the collector). */
  flush(): Promise<void>;
  /** Flushes, stops the SDK and puts the global API back to no-op. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** `service.name` when OTEL_SERVICE_NAME is not set. */
  serviceName: string;
  /** Default process.env; the exporter itself reads the standard OTEL_EXPORTER_OTLP_* variables from process.env. */
  env?: NodeJS.ProcessEnv;
}

const disabledHandle: TracingHandle = { enabled: false, flush: () => Promise.resolve(), shutdown: () => Promise.resolve() };

/**
 * Whether the standard variables ask for trace export: an OTLP endpoint
 * (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT), unless OTEL_SDK_DISABLED=true
 * or OTEL_TRACES_EXPORTER=none.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true") return false;
  if ((env.OTEL_TRACES_EXPORTER ?? "").trim().toLowerCase() === "none") return false;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return endpoint !== undefined && endpoint.trim() !== "";
}

let running: TracingHandle | undefined;

/**
 * Starts tracing for this process when the OTel variables ask for it (see tracingRequested):
 * W3C trace-context propagation, AsyncLocalStorage context, spans batched to OTLP/HTTP (JSON).
 * Otherwise nothing is loaded or registered and the handle is a no-op. One SDK per process: a
 * second call returns the running handle (`altalune dev` runs both apps in one process).
 */
export async function startTracing(opts: TracingOptions): Promise<TracingHandle> {
  const env = opts.env ?? process.env;
  if (!tracingRequested(env)) return disabledHandle;
  if (running !== undefined) return running;
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, { resourceFromAttributes }] =
    await Promise.all([
      import("@opentelemetry/sdk-trace-base"),
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/context-async-hooks"),
      import("@opentelemetry/core"),
      import("@opentelemetry/resources"),
    ]);
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || opts.serviceName;
  // The exporter reads endpoint, headers, timeout and compression from the standard variables.
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  active = true;
  let stopping: Promise<void> | undefined;
  const handle: TracingHandle = {
    enabled: true,
    flush: () => provider.forceFlush(),
    shutdown() {
      stopping ??= (async () => {
        active = false;
        running = undefined;
        try {
          await provider.shutdown();
        } finally {
          trace.disable();
          propagation.disable();
          context.disable();
        }
      })();
      return stopping;
    },
  };
  running = handle;
  return handle;
}

/** Reads W3C `traceparent`/`tracestate` from a fetch Headers (Connect's and the grpc-js port's request headers). */
const headersGetter: TextMapGetter<Headers> = {
  keys: (carrier) => [...carrier.keys()],
  get: (carrier, key) => carrier.get(key) ?? undefined,
};

/** The remote parent a request's headers carry (ROOT_CONTEXT when none or malformed). */
export function contextFromHeaders(headers: Headers): Context {
  return propagation.extract(ROOT_CONTEXT, headers, headersGetter);
}

/** Node's IncomingHttpHeaders: lower-case names, a string or string[] value. */
type NodeHeaders = Record<string, string | string[] | undefined>;
const nodeHeadersGetter: TextMapGetter<NodeHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** The remote parent a Node HTTP request's headers carry. */
export function contextFromNodeHeaders(headers: NodeHeaders): Context {
  return propagation.extract(ROOT_CONTEXT, headers, nodeHeadersGetter);
}

/** Adds `traceparent` (and `tracestate`) of the active span to outgoing headers. */
export function injectTraceHeaders(headers: Record<string, string>): Record<string, string> {
  if (active) propagation.inject(context.active(), headers);
  return headers;
}

const NO_TRACE_FIELDS: Record<string, never> = Object.freeze({});

/**
 * Log fields of the active span (pino mixin): `trace_id` and `span_id`, or a shared empty object
 * when tracing is off or no span is active. Only read, never mutated (see logger.ts).
 */
export function traceLogFields(): Record<string, string> {
  if (!active) return NO_TRACE_FIELDS;
  const span = trace.getActiveSpan();
  if (span === undefined) return NO_TRACE_FIELDS;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** True for the shared empty result of traceLogFields (nothing to merge). */
export function isNoTraceFields(fields: object): boolean {
  return fields === NO_TRACE_FIELDS;
}
