import { randomUUID } from "node:crypto";
import type { DescMethod, DescService, Message } from "@bufbuild/protobuf";
import { Code, createContextKey, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { tracingActive, type Logger, type Span } from "@altalune/core";
import { authRuleOf, ruleProblems, type AuthRule } from "./auth-rules.js";
import { sideEffectProblems, type CallAuditor } from "./call-audit.js";
import { endRpcSpan, tracedAuthStep, tracedCall } from "./call-tracing.js";
import { toClientError } from "./errors.js";
import { validateRequest } from "./validation.js";

export interface CallInfo {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly rule: AuthRule;
  readonly requestId: string;
  readonly transport: string;
}

/** The call's identity (service, method, rule, request id, transport), for services and steps that need it. */
export const callInfoKey = createContextKey<CallInfo | undefined>(undefined);

/**
 * The authentication/authorization step. It runs before validation, so an unauthorized caller
 * learns nothing about a method's input rules. It throws (ConnectError or AppError) to deny.
 */
export type AuthStep = (call: CallInfo, request: Message, ctx: HandlerContext) => Promise<void> | void;

/** Runs a call's auth step and handler, e.g. under a deadline for database waits (databaseCallGuard). */
export type CallWrapper = <T>(run: () => Promise<T>) => Promise<T>;

export { OVERLOADED_CODE } from "./overload-refusal.js";

export interface PipelineOptions {
  logger: Logger;
  authorize: AuthStep;
  /**
   * Calls in flight at once in this process, over both ports; one more is refused at once with
   * ResourceExhausted (HTTP 429 on Connect) instead of queueing without bound. Default 512.
   * The transports admit (`admit`/`release`) before they parse a request, so a refusal costs
   * next to nothing.
   */
  maxCallsInFlight?: number;
  around?: CallWrapper;
  /**
   * Told of every finished call, where its log line is written (metrics): `code` is the Connect
   * code's name ("OK", "PermissionDenied", …). Calls refused for overload are told too, with no
   * duration (answered before any work).
   */
  observe?: CallObserver;
  /** The audit log of mutations and audited reads (call-audit.ts); without it nothing is audited. */
  audit?: CallAuditor;
}

export type CallObserver = (call: Pick<CallInfo, "service" | "method" | "transport">, code: string, durationSeconds: number | undefined) => void;

type UnaryHandler = (request: Message, ctx: HandlerContext) => Promise<unknown>;

const REQUEST_ID_HEADER = "x-request-id";
// A caller-supplied id is echoed into logs and headers: keep it short and inert.
const acceptableRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdOf(ctx: HandlerContext): string {
  const given = ctx.requestHeader.get(REQUEST_ID_HEADER);
  return given !== null && acceptableRequestId.test(given) ? given : randomUUID();
}

/**
 * One chain around every call, whatever the transport: request id → auth step (reads the
 * method's rule) → protovalidate → service → error mapping → one log line. Both the Connect port
 * and the grpc-js port serve the services wrapped here, so their behaviour cannot diverge.
 */
export class CallPipeline {
  private active = 0;
  private readonly idleWaiters = new Set<() => void>();

  private readonly maxInFlight: number;
  /**
   * The per-call line's logger: the same logger without redaction. That line's keys are fixed
   * (request id, service, method, transport, code, duration) and none is a redacted path, so
   * redacting it changed nothing and cost about as much as writing it. Lines that carry anything
   * else (the error line's `err`) go through the redacting logger.
   */
  private readonly accessLog: Logger;

  constructor(private readonly opts: PipelineOptions) {
    this.maxInFlight = opts.maxCallsInFlight ?? 512;
    this.accessLog = opts.logger.child({}, { redact: [] });
  }

  /** Calls admitted and not yet answered, over both ports. */
  get activeCalls(): number {
    return this.active;
  }

  /**
   * Admission, asked by a transport before it reads the request: false when MAX_CALLS_IN_FLIGHT
   * calls are already in flight (the transport answers ResourceExhausted itself, see
   * overload-refusal.ts). Every admitted call is released exactly once, when its answer is done.
   */
  admit(): boolean {
    if (this.active >= this.maxInFlight) return false;
    this.active++;
    return true;
  }

  release(): void {
    this.active--;
    if (this.active === 0) for (const wake of [...this.idleWaiters]) wake();
  }

  /** A call refused for overload: counted and logged at debug (its path names a served method). */
  refused(service: DescService, method: DescMethod, transport: string): void {
    this.opts.logger.debug({ service: service.typeName, method: method.name, inFlight: this.active }, "call refused: too many calls in flight");
    this.opts.observe?.({ service, method, transport }, "ResourceExhausted", undefined);
  }

  /** Resolves true once no call is in flight, or false when the timeout passes first. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.active === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.idleWaiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.idleWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.idleWaiters.add(done);
    });
  }

  wrap<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceImpl<S> {
    const problems: string[] = [];
    const implementations = impl as unknown as Record<string, unknown>;
    const wrapped: Record<string, UnaryHandler> = {};
    for (const method of service.methods) {
      const rule = authRuleOf(method);
      const fn = implementations[method.localName];
      if (rule === undefined) problems.push(`${service.typeName}/${method.name}: no auth rule`);
      else {
        problems.push(...ruleProblems(method, rule));
        // With the audit log on, reads and mutations must be told apart without doubt (call-audit.ts).
        if (this.opts.audit !== undefined) problems.push(...sideEffectProblems(method, rule));
      }
      if (method.methodKind !== "unary") problems.push(`${service.typeName}/${method.name}: only unary RPCs are served`);
      if (typeof fn !== "function") problems.push(`${service.typeName}/${method.name}: the service object has no method for it`);
      if (rule === undefined || typeof fn !== "function" || method.methodKind !== "unary") continue;
      wrapped[method.localName] = this.wrapUnary(service, method, rule, (fn as UnaryHandler).bind(impl));
    }
    if (problems.length > 0) throw new Error(`cannot serve ${service.typeName}:\n  ${problems.join("\n  ")}`);
    return wrapped as unknown as ServiceImpl<S>;
  }

  private wrapUnary(service: DescService, method: DescMethod, rule: AuthRule, handler: UnaryHandler): UnaryHandler {
    const { logger, authorize } = this.opts;
    // The method's names are bound once (pino serializes a child's bindings when it is made), so
    // the per-call line serializes only what changes per call.
    const accessLog = this.accessLog.child({ service: service.typeName, method: method.name });
    const around: CallWrapper = this.opts.around ?? ((run) => run());
    const audited = this.opts.audit?.forMethod(service, method, rule);
    // An audited call's admission (auth step, validation), run inside its audit (call-audit.ts).
    const admit = async (call: CallInfo, request: Message, ctx: HandlerContext, span: Span | undefined) => {
      if (span === undefined) await authorize(call, request, ctx);
      else await tracedAuthStep(() => authorize(call, request, ctx));
      validateRequest(method.input, request);
    };
    const serve = async (request: Message, ctx: HandlerContext, span: Span | undefined): Promise<unknown> => {
      const started = performance.now();
      const requestId = requestIdOf(ctx);
      const call: CallInfo = { service, method, rule, requestId, transport: ctx.protocolName };
      ctx.values.set(callInfoKey, call);
      ctx.responseHeader.set(REQUEST_ID_HEADER, requestId);
      let code = "OK";
      try {
        return await around(async () => {
          if (audited !== undefined) return await audited.call(call, request, ctx, () => admit(call, request, ctx, span), () => handler(request, ctx));
          // Reads that are not audited: the same steps, inline.
          if (span === undefined) await authorize(call, request, ctx);
          else await tracedAuthStep(() => authorize(call, request, ctx));
          validateRequest(method.input, request);
          return await handler(request, ctx);
        });
      } catch (e) {
        const { error, unexpected } = toClientError(e, requestId);
        code = Code[error.code];
        const line = { requestId, service: service.typeName, method: method.name, transport: call.transport, code };
        if (unexpected) logger.error({ ...line, err: e }, "call failed unexpectedly");
        throw error;
      } finally {
        const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
        // After the answer is on its way: the line's synchronous write and the histogram are off
        // the call's latency (an immediate runs once this turn's socket writes, the http2 ones
        // included, have gone out), yet still before the loop reads the client's next bytes.
        setImmediate(recordCall, accessLog, this.opts.observe, call, code, durationMs);
        if (span !== undefined) endRpcSpan(span, call.transport, code, requestId);
      }
    };
    // Tracing off: the call path is `serve` itself, after one boolean test.
    return (request, ctx) =>
      tracingActive()
        ? tracedCall(service, method, ctx.requestHeader, ctx.protocolName, (span) => serve(request, ctx, span))
        : serve(request, ctx, undefined);
  }
}

function recordCall(accessLog: Logger, observe: CallObserver | undefined, call: CallInfo, code: string, durationMs: number): void {
  accessLog.info({ requestId: call.requestId, transport: call.transport, code, durationMs }, "rpc");
  observe?.(call, code, durationMs / 1000);
}
