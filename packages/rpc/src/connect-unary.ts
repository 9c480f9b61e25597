import type http from "node:http";
import type http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { create, type DescMessage, type DescMethod, type DescService, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import {
  compressionNegotiate,
  createMethodSerializationLookup,
  mergeNonProtocolHeaders,
  readAllBytes,
  validateUniversalHandlerOptions,
  type Compression,
  type MethodSerializationLookup,
} from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  contentTypeUnaryJson,
  contentTypeUnaryProto,
  errorToJsonBytes,
  parseContentType,
  parseTimeout,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { LazyCallContext } from "./call-context.js";

/**
 * The Connect port's own path for unary Connect calls sent with POST (a unary Connect content type,
 * a Content-Length, if any, within the read limit). Everything else (GET, streaming and other
 * content types, gRPC-Web, gRPC, unknown paths, a Content-Length above the limit) goes to
 * connect-node, which answers it as it always did.
 *
 * Why: connect-node's adapter turns every request into a fetch-style one (a URL, a copy of the
 * headers, an async iterable body, three linked AbortControllers, each aborted at the end with an
 * AbortError and its stack) and back; profiled under bench:ratios that machinery, not the call,
 * was most of a trivial call's CPU. This path does what connect's unary handler does
 * (protocol-connect/handler-factory.js) with connect's own parts — its serializers (patched, see
 * patches/), error JSON, HTTP status mapping, header merge, trailer prefixing, compression
 * negotiation and options defaults — so the bytes on the wire are the same; connect-unary.test.ts
 * sends the same requests to a server with and without it and compares the answers.
 */

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;
type UnaryHandler = (request: Message, ctx: LazyCallContext) => Promise<unknown>;

const DECIMAL = /^[0-9]{1,10}$/;

/** Answers up to this size are gzipped on the spot rather than on libuv's thread pool. */
const GZIP_ON_THE_SPOT_MAX_BYTES = 64 * 1024;

/**
 * connect-node's gzip, but a small answer (a page of a list: a few KiB) is compressed on the spot
 * with the same zlib call and options, so the same bytes: the hop to the thread pool and back cost
 * more latency than the work (gzipSync measured ~0.08 ms for 2 KiB, ~0.2 ms for 64 KiB, mostly
 * zlib's setup). Brotli stays on the pool: at its default quality even a small body takes
 * milliseconds, too long to hold the event loop.
 */
const gzipOnTheSpot: Compression = {
  name: compressionGzip.name,
  compress: (bytes) => (bytes.byteLength <= GZIP_ON_THE_SPOT_MAX_BYTES ? Promise.resolve(gzipSync(bytes, {})) : compressionGzip.compress(bytes)),
  decompress: (bytes, readMaxBytes) => compressionGzip.decompress(bytes, readMaxBytes),
};

interface Route {
  service: DescService;
  method: DescMethod;
  handler: UnaryHandler;
  serialization: MethodSerializationLookup<DescMessage, DescMessage>;
}

export interface ConnectUnaryOptions {
  readMaxBytes: number;
  writeMaxBytes: number;
  maxTimeoutMs: number;
  contextValues: (req: NodeRequest) => ContextValues;
}

/** Node's request headers as fetch Headers, as connect-node reads them (pseudo-headers left out). */
function requestHeaders(nodeHeaders: NodeRequest["headers"]): Headers {
  const headers = new Headers();
  for (const key in nodeHeaders) {
    if (key.startsWith(":")) continue;
    const value = nodeHeaders[key];
    if (value === undefined) continue;
    if (typeof value === "string") headers.append(key, value);
    else for (const v of value) headers.append(key, v);
  }
  return headers;
}

/** fetch Headers as Node's outgoing headers, repeated names (set-cookie) as arrays, as connect-node writes them. */
function nodeHeaders(headers: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  headers.forEach((value, key) => {
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  });
  return out;
}

/**
 * The whole body of a request whose Content-Length is within the limit, or undefined when the
 * client went away before sending it. Node's parsers hold the client to the length; more bytes
 * than promised are refused here too, in connect's words, rather than buffered.
 */
function readSizedBody(req: NodeRequest, res: NodeResponse, promised: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > promised) {
        req.pause();
        reject(new ConnectError(`protocol error: promised ${promised} bytes, received ${size}`, Code.InvalidArgument));
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.once("error", () => resolve(undefined));
    req.once("aborted", () => resolve(undefined));
    res.once("close", () => resolve(undefined));
  });
}

export class ConnectUnaryPath {
  private readonly routes = new Map<string, Route>();
  private readonly opt: ReturnType<typeof validateUniversalHandlerOptions>;

  constructor(private readonly options: ConnectUnaryOptions) {
    // connect-node's own defaults (gzip and brotli, in that order; compressMinBytes), applied by connect.
    this.opt = validateUniversalHandlerOptions({
      readMaxBytes: options.readMaxBytes,
      writeMaxBytes: options.writeMaxBytes,
      maxTimeoutMs: options.maxTimeoutMs,
      acceptCompression: [gzipOnTheSpot, compressionBrotli],
    });
  }

  /** Serves a unary method at `path` (e.g. /api/altalune.v1.ConfigService/GetPublicConfig). */
  add(path: string, service: DescService, method: DescMethod, handler: UnaryHandler): void {
    const serialization = createMethodSerializationLookup(method, this.opt.binaryOptions, this.opt.jsonOptions, this.opt);
    this.routes.set(path, { service, method, handler, serialization });
  }

  /** Takes and answers a unary Connect call sent with POST to a served method; false leaves the request to connect-node. */
  take(req: NodeRequest, res: NodeResponse): boolean {
    if (req.method !== "POST") return false;
    const route = this.routes.get(req.url ?? "");
    if (route === undefined) return false;
    const headers = req.headers;
    // connect-node gives a unary Connect content type to the Connect protocol's handler.
    const type = parseContentType(headers["content-type"] ?? null);
    if (type === undefined || type.stream) return false;
    const length = headers["content-length"];
    // A length connect-node refuses (too large, not a number) is refused there, in its words.
    if (length !== undefined && (!DECIMAL.test(length) || Number(length) > this.opt.readMaxBytes)) return false;
    // Checked by the port (connect-server.ts) before either path runs.
    const authority = ("authority" in req ? req.authority : headers.host) ?? "";
    this.serve(route, type.binary, authority, length === undefined ? undefined : Number(length), req, res).catch(() => {
      // What the call's own error handling cannot answer (a header fetch Headers refuses, a failed
      // compression or write): the request is ended rather than left to an unhandled rejection.
      res.destroy();
    });
    return true;
  }

  private async serve(route: Route, binary: boolean, authority: string, length: number | undefined, req: NodeRequest, res: NodeResponse): Promise<void> {
    const timeout = parseTimeout(headers(req, "connect-timeout-ms"), this.opt.maxTimeoutMs);
    const ctx = new LazyCallContext({
      protocolName: "connect",
      service: route.service,
      method: route.method,
      path: req.url ?? "",
      authority,
      requestHeader: requestHeaders(req.headers),
      timeoutMs: timeout.timeoutMs,
      responseHeader: new Headers({ "content-type": binary ? contentTypeUnaryProto : contentTypeUnaryJson }),
      values: this.options.contextValues(req),
    });
    let answered = false;
    res.once("close", () => {
      if (!answered) ctx.abort(new ConnectError("call cancelled by the client", Code.Canceled));
    });
    const compression = compressionNegotiate(this.opt.acceptCompression, headers(req, "content-encoding"), headers(req, "accept-encoding"), "accept-encoding");
    let status = 200;
    let body: Uint8Array;
    try {
      // In connect's order: an unsupported request encoding, then a bad timeout, before the body is read.
      if (compression.error !== undefined) throw compression.error;
      if (timeout.error !== undefined) throw timeout.error;
      // Without a length (chunked, or an HTTP/2 stream), connect's own reader enforces the limit.
      let bytes = length !== undefined ? await readSizedBody(req, res, length) : await readAllBytes(req, this.opt.readMaxBytes, null);
      if (bytes === undefined) return;
      if (compression.request !== null) bytes = await compression.request.decompress(bytes, this.opt.readMaxBytes);
      const input = route.serialization.getI(binary).parse(bytes);
      const output = create(route.method.output, (await route.handler(input, ctx)) as Parameters<typeof create>[1]);
      body = route.serialization.getO(binary).serialize(output);
    } catch (e) {
      const error = e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
      status = codeToHttpStatus(error.code);
      ctx.responseHeader.set("content-type", contentTypeUnaryJson);
      if (!error.isWireError) mergeNonProtocolHeaders(ctx.responseHeader, error.metadata);
      body = errorToJsonBytes(error, this.opt.jsonOptions);
    } finally {
      answered = true;
      ctx.finish();
    }
    if (compression.response !== null && body.byteLength >= this.opt.compressMinBytes) {
      body = await compression.response.compress(body);
      ctx.responseHeader.set("content-encoding", compression.response.name);
    }
    const header = trailerMux(ctx.responseHeader, ctx.responseTrailer);
    header.set("content-length", body.byteLength.toString(10));
    try {
      res.writeHead(status, nodeHeaders(header));
      res.end(body);
    } catch {
      // A header value Node refuses to write: nothing can be answered on this request.
      res.destroy();
    }
  }
}

function headers(req: NodeRequest, name: string): string | null {
  const value = req.headers[name];
  return typeof value === "string" ? value : null;
}
