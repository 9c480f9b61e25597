import {
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from "@opentelemetry/api";

// OpenTelemetry tracing (docs/observability.md "Tracing"). The API package is always loaded (it
// is a few no-op objects); the SDK, the OTLP exporter and the AsyncLocalStorage context manager
// are imported only when an endpoint is configured. Instrumented code checks `tracingActive()`
// (one boolean) before doing any tracing work, so with tracing off the call path is unchanged.

export { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer };

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

/** Outgoing headers: a fetch Headers or a plain record (node:http, openid-client's custom fetch). */
export type HeaderCarrier = Headers | Record<string, string>;
const carrierSetter: TextMapSetter<HeaderCarrier> = {
  set(carrier, key, value) {
    if (carrier instanceof Headers) carrier.set(key, value);
    else carrier[key] = value;
  },
};

/**
 * Adds `traceparent` (and `tracestate`) of `ctx` (default: the active context) to outgoing
 * headers; nothing when tracing is off or no span is active.
 */
export function injectTraceHeaders<C extends HeaderCarrier>(headers: C, ctx?: Context): C {
  if (active) propagation.inject(ctx ?? context.active(), headers, carrierSetter);
  return headers;
}

// Outgoing requests (JWKS, upstream identity providers, the BFF's token endpoint calls, SMTP):
// one CLIENT span each, in the caller's context. Unlike statements they are traced outside a
// request too (they are rare, and a failing upstream is worth a trace of its own).

const CLIENT_TRACER = "altalune-client";
const NON_RECORDING_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * `error.type` of a failure: its system code (`ECONNREFUSED`, `ETIMEDOUT`, nodemailer's
 * `EENVELOPE`, `ERR_OUTBOUND_REFUSED`), the code of its cause (fetch's `TypeError: fetch failed`),
 * else its class name. Never the message: messages can quote addresses and input.
 */
export function errorType(e: unknown): string {
  const codeOf = (x: unknown): string | undefined => {
    const code = typeof x === "object" && x !== null ? (x as { code?: unknown }).code : undefined;
    return typeof code === "string" && code !== "" ? code : undefined;
  };
  return codeOf(e) ?? codeOf(e instanceof Error ? e.cause : undefined) ?? (e instanceof Error ? e.name : "_OTHER");
}

function failSpan(span: Span, type: string): void {
  span.setAttribute("error.type", type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

/**
 * Runs `run` inside a CLIENT span (the active span while it runs, so what it starts is its child);
 * a rejection marks the span failed with `error.type` (see errorType) and is passed on. With
 * tracing off `run` gets a non-recording span and nothing else happens.
 */
export function inClientSpan<T>(name: string, attributes: Attributes, run: (span: Span) => Promise<T>): Promise<T> {
  if (!active) return run(NON_RECORDING_SPAN);
  return trace.getTracer(CLIENT_TRACER).startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      return await run(span);
    } catch (e) {
      failSpan(span, errorType(e));
      throw e;
    } finally {
      span.end();
    }
  });
}

/**
 * `url.full` as the HTTP conventions want it: user and password replaced by REDACTED, every query
 * value replaced by REDACTED (names kept: `?code=REDACTED&state=REDACTED`), no fragment.
 */
export function redactedUrl(url: URL): string {
  const u = new URL(url.href);
  if (u.username !== "") u.username = "REDACTED";
  if (u.password !== "") u.password = "REDACTED";
  u.hash = "";
  if (u.search !== "") u.search = [...new Set(u.searchParams.keys())].map((k) => `${encodeURIComponent(k)}=REDACTED`).join("&");
  return u.href;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { "http:": 80, "https:": 443 };
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);

/**
 * An outgoing HTTP request as a CLIENT span named by its method (the HTTP client conventions:
 * `http.request.method`, `url.full` redacted, `server.address`, `server.port`,
 * `http.response.status_code`, `http.request.resend_count` for a redirect hop; status ERROR with
 * `error.type` on a 4xx/5xx answer or a failure). The span's `traceparent` is put in `headers`
 * before `send` runs, so `send` must send those headers.
 */
export function tracedHttpRequest<R extends { status: number }>(method: string, url: URL, headers: HeaderCarrier, send: () => Promise<R>, resendCount = 0): Promise<R> {
  if (!active) return send();
  const known = KNOWN_METHODS.has(method);
  const attributes: Attributes = {
    "http.request.method": known ? method : "_OTHER",
    ...(known ? {} : { "http.request.method_original": method }),
    "url.full": redactedUrl(url),
    "server.address": url.hostname.replace(/^\[|\]$/g, ""),
    "server.port": url.port === "" ? (DEFAULT_PORTS[url.protocol] ?? 0) : Number(url.port),
    ...(resendCount > 0 ? { "http.request.resend_count": resendCount } : {}),
  };
  return inClientSpan(known ? method : "HTTP", attributes, async (span) => {
    injectTraceHeaders(headers);
    const res = await send();
    span.setAttribute("http.response.status_code", res.status);
    if (res.status >= 400) failSpan(span, String(res.status));
    return res;
  });
}

/** fetch's shape, as far as the callers here use it (openid-client's and jose's custom fetch included). */
export type FetchFunction = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * `impl` (default: the global fetch) with each request traced by tracedHttpRequest; with tracing
 * off it calls `impl` unchanged.
 */
export function tracedFetch(impl: FetchFunction = (input, init) => fetch(input, init)): FetchFunction {
  return (input, init) => {
    // Not an absolute URL: `impl` rejects it as fetch would (no span for a request never made).
    if (!active || !URL.canParse(String(input))) return impl(input, init);
    const headers = new Headers(init?.headers);
    const method = (init?.method ?? "GET").toUpperCase();
    return tracedHttpRequest(method, new URL(input), headers, () => impl(input, { ...init, headers }));
  };
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
