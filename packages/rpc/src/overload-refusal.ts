import type http from "node:http";
import type http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { errorDetail } from "./errors.js";

/** ErrorDetail code of a call refused because MAX_CALLS_IN_FLIGHT calls are already in flight. */
export const OVERLOADED_CODE = "60016";

/** How long a refused client should wait before trying again (seconds). */
const RETRY_AFTER_SECONDS = "1";

export const overloadedError = () =>
  new ConnectError("server overloaded; retry later", Code.ResourceExhausted, undefined, [
    errorDetail(OVERLOADED_CODE, { reason: "max_calls_in_flight" }),
  ]);

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** The protocol a refused request spoke, by the rules connect-node itself applies. */
export type RefusedProtocol = "connect" | "grpc" | "grpc-web";

const grpcWebContentType = /^application\/grpc-web(-text)?(\+proto|\+json)?$/i;
const grpcContentType = /^application\/grpc(\+proto|\+json)?$/i;

/**
 * The answer to a call refused for overload, built once with connect-es's own serializers (so it
 * is exactly what connect-node would send for the same error) and written before the request is
 * read or parsed: a refusal must cost far less than a call, or refusing under overload saturates
 * the process as surely as serving would.
 */
export class OverloadRefusal {
  private readonly connectBody: Buffer;
  private readonly grpcStatus: Record<string, string>;

  constructor() {
    const error = overloadedError();
    this.connectBody = Buffer.from(errorToJsonBytes(error, {}));
    this.grpcStatus = Object.fromEntries(setTrailerStatus(new Headers(), error).entries());
  }

  /** Answers the request; returns the protocol it was answered in (for the metrics' label). */
  send(req: NodeRequest, res: NodeResponse): RefusedProtocol {
    const contentType = (req.headers["content-type"] ?? "").split(";", 1)[0]!.trim();
    if (grpcWebContentType.test(contentType)) {
      // gRPC-Web allows a trailers-only answer: the status in the headers, no body.
      res.writeHead(200, { "content-type": contentType, ...this.grpcStatus });
      res.end();
      return "grpc-web";
    }
    if (grpcContentType.test(contentType) && "stream" in res) {
      // gRPC's trailers-only answer must be one HEADERS frame with END_STREAM; a client reading
      // headers without it would wait for trailers that never come.
      res.stream.respond({ ":status": 200, "content-type": contentType, ...this.grpcStatus }, { endStream: true });
      return "grpc";
    }
    // Connect unary (POST or GET): HTTP 429 by the protocol's code mapping, the error as JSON.
    res.writeHead(429, {
      "content-type": "application/json",
      "content-length": String(this.connectBody.length),
      "retry-after": RETRY_AFTER_SECONDS,
    });
    res.end(this.connectBody);
    return "connect";
  }
}
