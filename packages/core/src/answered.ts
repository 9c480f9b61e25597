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
  let called = false;
  let unwatch = () => {};
  const answered = () => {
    if (called) return;
    called = true;
    unwatch();
    fn();
  };
  res.once("close", answered);
  const socket = req.socket;
  if (req.httpVersionMajor !== 1 || socket === null) return;
  if (socket.destroyed) return answered();
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
  const own = fns;
  own.add(answered);
  unwatch = () => own.delete(answered);
}
