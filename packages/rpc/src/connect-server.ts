import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { cors, createContextValues, type ConnectRouter, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { corsAnswer, HTTP1_SERVER_OPTIONS, onceAnswered, type CorsPolicy } from "@altalune/core";
import { peerAddressKey } from "./call-audit.js";
import { ConnectUnaryPath } from "./connect-unary.js";
import { OverloadRefusal } from "./overload-refusal.js";
import type { CallPipeline } from "./pipeline.js";

export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** A service and its implementation, registered on both ports. */
export interface ServiceRegistration<S extends DescService = DescService> {
  service: S;
  impl: ServiceImpl<S>;
}

export function registration<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceRegistration {
  return { service, impl } as unknown as ServiceRegistration;
}

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;
export type HttpRoute = (req: NodeRequest, res: NodeResponse) => void | Promise<void>;

export interface ConnectServerOptions {
  services: readonly ServiceRegistration[];
  pipeline: CallPipeline;
  /** Plain HTTP routes by exact path (health probes). */
  routes?: Record<string, HttpRoute>;
  maxTimeoutMs: number;
  /** A connection that sends nothing for this long is closed (slowloris). */
  idleTimeoutMs?: number;
  /** Browser origins allowed to call with credentials (CORS); others get no CORS headers. */
  allowedOrigins?: readonly string[];
  /**
   * Common unary Connect calls on our own path (connect-unary.ts), the rest on connect-node.
   * Default true; false sends everything to connect-node (the tests compare the two).
   */
  unaryFastPath?: boolean;
}

export interface RunningServer {
  readonly port: number;
  /** Stops accepting; lets in-flight calls finish for up to `graceMs`, then cuts what is left. */
  close(graceMs: number): Promise<void>;
}

const CORS_ALLOWED_HEADERS = [...cors.allowedHeaders, "authorization", "x-api-key", "x-request-id"].join(", ");
const CORS_EXPOSED_HEADERS = [...cors.exposedHeaders, "x-request-id"].join(", ");
const CORS_MAX_AGE_SECONDS = 7200;

/** Applies the CORS policy (packages/core/src/cors.ts); true when the request was a preflight, now answered. */
function applyCors(policy: CorsPolicy, req: NodeRequest, res: NodeResponse): boolean {
  const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
  const answer = corsAnswer(policy, req.headers.origin, preflight);
  for (const [name, value] of answer.headers) res.setHeader(name, value);
  if (answer.preflightStatus === undefined) return false;
  res.writeHead(answer.preflightStatus);
  res.end();
  return true;
}

// Nearly every request names the same host: the last one found valid is not parsed again.
let lastValidAuthority = "";

/** The request names a host (Host, or HTTP/2's :authority) that a URL can be built on. */
function hasValidAuthority(req: NodeRequest): boolean {
  const authority = "authority" in req ? req.authority : req.headers.host;
  if (authority === undefined || authority === "") return false;
  if (authority === lastValidAuthority) return true;
  if (!URL.canParse(`http://${authority}`)) return false;
  lastValidAuthority = authority;
  return true;
}

const BAD_AUTHORITY_BODY = JSON.stringify({ code: "invalid_argument", message: "the request has no valid Host header (or :authority)" });

function answerBadAuthority(res: NodeResponse): void {
  res.writeHead(400, { "content-type": "application/json", "content-length": Buffer.byteLength(BAD_AUTHORITY_BODY) });
  res.end(BAD_AUTHORITY_BODY);
}

const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["x-content-type-options", "nosniff"],
  ["x-frame-options", "DENY"],
  ["referrer-policy", "strict-origin-when-cross-origin"],
];

/**
 * The Connect port: Connect (JSON and binary), gRPC-Web and gRPC under /api, on HTTP/1.1 and
 * h2c at once. Node's cleartext HTTP/2 server cannot answer HTTP/1.1, so a listener looks at the
 * first bytes of each connection and hands it to one server or the other.
 */
export async function startConnectServer(opts: ConnectServerOptions, port: number, host: string): Promise<RunningServer> {
  const idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
  // The peer's address for the audit log, read only when a row is written.
  const contextValues = (req: NodeRequest) => createContextValues().set(peerAddressKey, () => req.socket.remoteAddress);
  const wrapped = opts.services.map(({ service, impl }) => ({ service, impl: opts.pipeline.wrap(service, impl) }));
  const limits = { readMaxBytes: MAX_MESSAGE_BYTES, writeMaxBytes: MAX_MESSAGE_BYTES, maxTimeoutMs: opts.maxTimeoutMs };
  const connectHandler = connectNodeAdapter({
    requestPathPrefix: "/api",
    ...limits,
    contextValues,
    routes: (router: ConnectRouter) => {
      for (const { service, impl } of wrapped) router.service(service, impl);
    },
  });
  const unary = opts.unaryFastPath === false ? undefined : new ConnectUnaryPath({ ...limits, contextValues });
  for (const { service, impl } of unary === undefined ? [] : wrapped) {
    const handlers = impl as unknown as Record<string, Parameters<ConnectUnaryPath["add"]>[3]>;
    for (const method of service.methods) unary?.add(`/api/${service.typeName}/${method.name}`, service, method, handlers[method.localName]!);
  }
  const routes = opts.routes ?? {};
  const corsPolicy: CorsPolicy = {
    origins: new Set(opts.allowedOrigins ?? []),
    allowMethods: cors.allowedMethods.join(", "),
    allowHeaders: CORS_ALLOWED_HEADERS,
    exposeHeaders: CORS_EXPOSED_HEADERS,
    maxAgeSeconds: CORS_MAX_AGE_SECONDS,
  };
  const { pipeline } = opts;
  const release = () => pipeline.release();
  const refusal = new OverloadRefusal();
  const methodsByPath = new Map<string, { service: DescService; method: DescMethod }>();
  for (const { service } of opts.services) {
    for (const method of service.methods) methodsByPath.set(`/api/${service.typeName}/${method.name}`, { service, method });
  }
  const handler = (req: NodeRequest, res: NodeResponse) => {
    for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
    if (applyCors(corsPolicy, req, res)) return;
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    const route = routes[path];
    if (route === undefined) {
      // connect-node builds the request's URL from it and throws, outside any handler, when it is
      // missing or not a host: refused here, before either path, so no request can crash the process.
      if (!hasValidAuthority(req)) {
        answerBadAuthority(res);
        return;
      }
      // Admitted before connect-node reads or parses anything; released when the answer is done
      // (or the client went away, pipelined requests included).
      if (pipeline.admit()) {
        onceAnswered(req, res, release);
        if (unary?.take(req, res) !== true) connectHandler(req, res);
        return;
      }
      const protocol = refusal.send(req, res);
      const served = methodsByPath.get(path);
      if (served !== undefined) pipeline.refused(served.service, served.method, protocol);
      return;
    }
    Promise.resolve(route(req, res)).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };

  const h1 = http.createServer(HTTP1_SERVER_OPTIONS, handler);
  // Node sets up connection tracking (request/headers timeouts, closeIdleConnections) when an
  // http.Server starts listening. This one never listens itself (the sniffing listener hands it
  // sockets), so it is told it is listening.
  h1.emit("listening");
  const h2 = http2.createServer({ maxSessionMemory: 10 }, handler);
  h2.setTimeout(idleTimeoutMs);
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    h2Sessions.add(session);
    session.once("close", () => h2Sessions.delete(session));
  });

  const sockets = new Set<net.Socket>();
  const handedOver = new WeakSet<net.Socket>();
  // The listener accepts the sockets, so its options are theirs: node:http's own listener turns
  // Nagle's algorithm off (noDelay) for every connection, and this one must too, or a response
  // written in more than one piece waits for the client's delayed ACK.
  const listener = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // Nothing sent at all within the idle bound: drop it before it costs a server slot.
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    socket.once("readable", () => {
      const head: Buffer | null = socket.read();
      if (head === null) {
        socket.destroy();
        return;
      }
      socket.setTimeout(0);
      socket.unshift(head);
      handedOver.add(socket);
      // "PRI * HTTP/2.0" is the HTTP/2 connection preface: prior-knowledge h2c.
      (head.subarray(0, 3).toString("latin1") === "PRI" ? h2 : h1).emit("connection", socket);
    });
  });

  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(port, host, () => resolve());
  });
  const address = listener.address();
  const boundPort = typeof address === "object" && address !== null ? address.port : port;

  return {
    port: boundPort,
    async close(graceMs: number) {
      const deadline = Date.now() + graceMs;
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const socket of sockets) if (!handedOver.has(socket)) socket.destroy();
      h1.close();
      h1.closeIdleConnections();
      for (const session of h2Sessions) session.close();
      await opts.pipeline.drained(graceMs);
      h1.closeIdleConnections();
      // Responses may still be flushing after the handlers returned: let sockets close on their own.
      while (sockets.size > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        h1.closeIdleConnections();
      }
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
