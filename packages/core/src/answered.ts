/** What onceAnswered needs of a node:http or node:http2 request and response. */
interface AnsweredRequest {
  readonly httpVersionMajor: number;
  readonly socket: { readonly destroyed: boolean; once(event: "close", fn: () => void): unknown } | null;
}
interface AnsweredResponse {
  once(event: "close", fn: () => void): unknown;
}

type Connection = NonNullable<AnsweredRequest["socket"]>;
const waiting = new WeakMap<Connection, Set<() => void>>();

/**
 * Calls `fn` once the answer to `req` is done: its response closed (finished, or its stream or
 * connection gone) or, on HTTP/1.1, its connection closed. The second is needed for pipelined
 * requests: the response of one queued behind another never closes when the connection does
 * (Node 20 aborts the requests of a closed connection, not their queued responses), so an
 * in-flight slot counted on it alone would never come back. One close listener per connection,
 * however many requests it carries.
 */
export function onceAnswered(req: AnsweredRequest, res: AnsweredResponse, fn: () => void): void {
  const answer = new Answer(fn);
  res.once("close", answer.settle);
  const socket = req.socket;
  if (req.httpVersionMajor !== 1 || socket === null) return;
  if (socket.destroyed) return answer.settle();
  let fns = waiting.get(socket);
  if (fns === undefined) {
    const created = new Set<() => void>();
    fns = created;
    waiting.set(socket, created);
    socket.once("close", () => {
      for (const f of [...created]) f();
      created.clear();
    });
  }
  answer.watchedBy = fns;
  fns.add(answer.settle);
}

/**
 * One answer's state. Its callback is a bound method rather than closures made per request: under
 * tsx (esbuild keepNames) each named closure also costs a defineProperty call, on every call.
 */
class Answer {
  readonly settle: () => void;
  watchedBy: Set<() => void> | undefined;
  private called = false;

  constructor(private readonly fn: () => void) {
    this.settle = this.answered.bind(this);
  }

  private answered(): void {
    if (this.called) return;
    this.called = true;
    this.watchedBy?.delete(this.settle);
    this.fn();
  }
}
