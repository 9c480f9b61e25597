import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { context, contextFromHeaders, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@altalune/core";

// Spans of the call pipeline (docs/observability.md "Tracing"), following the OpenTelemetry RPC
// semantic conventions. Only called when tracingActive(): the pipeline's untraced path does none
// of this.

const TRACER_NAME = "altalune-rpc";

function tracer(): Tracer {
  // The global provider's tracer (cheap: the SDK caches it by name).
  return trace.getTracer(TRACER_NAME);
}

/** `rpc.system`: Connect's own protocol is `connect_rpc`; gRPC-Web and both gRPC ports are `grpc`. */
function rpcSystem(transport: string): string {
  return transport === "connect" ? "connect_rpc" : "grpc";
}

/**
 * Server-side codes that make the span an error (the gRPC conventions: the caller's mistakes,
 * refusals and not-found are not the server's failures).
 */
const SERVER_ERROR_CODES = new Set<Code>([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

/** Connect's snake_case code name (`permission_denied`), as in its wire format and the conventions. */
function connectCodeName(code: number): string {
  return (Code[code] ?? "Unknown").replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}

/**
 * Runs `serve` inside a SERVER span named `service/Method`, child of the `traceparent` the request
 * carried (a new trace when none). `serve` ends the span through endRpcSpan.
 */
export function tracedCall<T>(service: DescService, method: DescMethod, headers: Headers, transport: string, serve: (span: Span) => Promise<T>): Promise<T> {
  const parent = contextFromHeaders(headers);
  const span = tracer().startSpan(
    `${service.typeName}/${method.name}`,
    {
      kind: SpanKind.SERVER,
      attributes: { "rpc.system": rpcSystem(transport), "rpc.service": service.typeName, "rpc.method": method.name, "altalune.transport": transport },
    },
    parent,
  );
  return context.with(trace.setSpan(parent, span), serve, undefined, span);
}

/** Records the call's outcome (`code`: the Connect code's name, as in the log line) and ends the span. */
export function endRpcSpan(span: Span, transport: string, codeName: string, requestId: string): void {
  // Connect's Code has no OK; gRPC's OK is 0 and the other numbers are the same.
  const code: number = codeName === "OK" ? 0 : (Code[codeName as keyof typeof Code] ?? Code.Unknown);
  span.setAttribute("altalune.request_id", requestId);
  if (rpcSystem(transport) === "grpc") span.setAttribute("rpc.grpc.status_code", code);
  else if (codeName !== "OK") span.setAttribute("rpc.connect_rpc.error_code", connectCodeName(code));
  if (codeName !== "OK" && SERVER_ERROR_CODES.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: codeName });
  span.end();
}

/**
 * The auth step as a child span (`altalune.auth`): refused calls are marked with the refusal's
 * class name only (its message may quote the token's claims).
 */
export async function tracedAuthStep(run: () => Promise<void> | void): Promise<void> {
  return tracer().startActiveSpan("altalune.auth", { kind: SpanKind.INTERNAL }, async (span) => {
    try {
      await run();
    } catch (e) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof ConnectError ? Code[e.code] : e instanceof Error ? e.name : "refused" });
      throw e;
    } finally {
      span.end();
    }
  });
}
