import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";

export interface CallContextInit {
  protocolName: string;
  service: DescService;
  method: DescMethod;
  /** The request's path; with `authority`, the URL is built from both on first read (no handler of ours reads it). */
  path: string;
  authority?: string;
  requestHeader: Headers;
  timeoutMs: number | undefined;
  /** Headers the response starts with (the Connect port's content type). */
  responseHeader?: Headers;
  values?: ContextValues;
}

/**
 * The HandlerContext of a call served by our own adapters (the grpc-js port, the Connect port's
 * unary path). connect's createHandlerContext builds three linked AbortControllers, a deadline
 * timer and copies of the headers for every call, and aborts them when the call ends (an
 * AbortError with its stack, twice per call on the Connect port); almost no handler reads the
 * signal, so here it is made on first read: aborted at once if the call was already cancelled
 * or past its deadline, else armed then. Until it is read, a cancellation only records its reason.
 * Unlike connect's, the signal is not aborted once the call is answered (no handler of ours keeps
 * listening past its answer), and a client going away is always Canceled (connect maps HTTP/2
 * reset codes to finer codes the handler never acts on).
 */
export class LazyCallContext implements HandlerContext {
  readonly protocolName: string;
  readonly service: DescService;
  readonly method: DescMethod;
  readonly requestHeader: Headers;
  readonly responseHeader: Headers;
  readonly responseTrailer = new Headers();
  readonly values: ContextValues;
  readonly timeoutMs: () => number | undefined;
  private readonly path: string;
  private readonly authority: string | undefined;
  private controller: AbortController | undefined;
  private reason: ConnectError | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly deadlineAt: number | undefined;
  private fullUrl: string | undefined;

  constructor(init: CallContextInit) {
    this.protocolName = init.protocolName;
    this.service = init.service;
    this.method = init.method;
    this.path = init.path;
    this.authority = init.authority;
    this.requestHeader = init.requestHeader;
    this.responseHeader = init.responseHeader ?? new Headers();
    this.values = init.values ?? createContextValues();
    const deadlineAt = init.timeoutMs === undefined ? undefined : Date.now() + init.timeoutMs;
    this.deadlineAt = deadlineAt;
    this.timeoutMs = deadlineAt === undefined ? () => undefined : () => deadlineAt - Date.now();
  }

  get requestMethod(): string {
    return "POST";
  }

  get url(): string {
    return (this.fullUrl ??= this.authority === undefined ? this.path : new URL(this.path, `http://${this.authority}`).toString());
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = (this.controller = new AbortController());
      if (this.reason !== undefined) controller.abort(this.reason);
      else if (this.deadlineAt !== undefined) {
        const left = this.deadlineAt - Date.now();
        const expire = () => this.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
        if (left <= 0) expire();
        else this.deadlineTimer = setTimeout(expire, left);
      }
    }
    return this.controller.signal;
  }

  abort(reason: ConnectError): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    clearTimeout(this.deadlineTimer);
    this.controller?.abort(reason);
  }

  /** The call was answered: nothing is left to abort. */
  finish(): void {
    clearTimeout(this.deadlineTimer);
  }
}
