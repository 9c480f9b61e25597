import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import { create, fromBinary, toBinary, type DescFile, type DescMessage, type DescMethod, type DescService, type Message } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { LazyCallContext } from "./call-context.js";
import { peerAddressKey } from "./call-audit.js";
import { grpcStatusFromConnectError, toClientError } from "./errors.js";
import { MAX_MESSAGE_BYTES, type RunningServer, type ServiceRegistration } from "./connect-server.js";
import { healthFileDescriptor } from "./health-descriptor.js";
import { overloadedError } from "./overload-refusal.js";
import type { CallPipeline } from "./pipeline.js";

/** Request bytes that do not decode: answered with InvalidArgument instead of grpc-js's INTERNAL. */
class MalformedRequest {
  constructor(readonly reason: string) {}
}

type UnaryHandler = (request: Message, ctx: HandlerContext) => Promise<unknown>;

const serializer = (schema: DescMessage) => (value: unknown) => {
  const bytes = toBinary(schema, create(schema, value as Parameters<typeof create>[1]));
  // A view of the encoded bytes, not a copy of them.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};

const deserializer = (schema: DescMessage) => (bytes: Buffer) => {
  try {
    return fromBinary(schema, bytes);
  } catch (e) {
    return new MalformedRequest(e instanceof Error ? e.message : String(e));
  }
};

/** A grpc-js service definition built from protobuf-es descriptors: no second code generator. */
export function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  return Object.fromEntries(
    service.methods.map((m) => [
      m.localName,
      {
        path: `/${service.typeName}/${m.name}`,
        originalName: m.name,
        requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
        responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
        requestSerialize: serializer(m.input),
        requestDeserialize: deserializer(m.input),
        responseSerialize: serializer(m.output),
        responseDeserialize: deserializer(m.output),
      },
    ]),
  );
}

function headersOf(metadata: grpc.Metadata): Headers {
  const headers = new Headers();
  const map = metadata.getMap();
  for (const key in map) {
    const value = map[key]!;
    headers.set(key, typeof value === "string" ? value : value.toString("base64"));
  }
  return headers;
}

function metadataOf(headers: Headers): grpc.Metadata {
  const metadata = new grpc.Metadata();
  headers.forEach((value, key) => {
    if (key.endsWith("-bin")) metadata.set(key, Buffer.from(value, "base64"));
    else metadata.set(key, value);
  });
  return metadata;
}

function timeoutOf(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** grpc-js' peer is `<address>:<port>` (IPv6 without brackets) or "unknown". */
function addressOfPeer(peer: string): string | undefined {
  if (peer === "unknown") return undefined;
  return peer.replace(/:\d+$/, "");
}

/**
 * The checks the Connect port makes too, then the pipeline. A module function, not a closure per
 * call: the per-call cost of this adapter is part of what bench:ratios measures.
 */
async function serveCall(
  call: grpc.ServerUnaryCall<unknown, unknown>,
  ctx: LazyCallContext,
  wrapped: UnaryHandler,
  timeoutMs: number | undefined,
  maxTimeoutMs: number,
): Promise<unknown> {
  // Same contract as the Connect port: a deadline beyond the limit is refused, not clamped.
  if (timeoutMs !== undefined && timeoutMs > maxTimeoutMs) {
    throw new ConnectError(`timeout ${timeoutMs}ms must be <= ${maxTimeoutMs}`, Code.InvalidArgument);
  }
  const request: unknown = call.request;
  if (request instanceof MalformedRequest) {
    throw new ConnectError(`malformed request message: ${request.reason}`, Code.InvalidArgument);
  }
  return wrapped(request as Message, ctx);
}

function unaryHandler(
  service: DescService,
  methodName: string,
  wrapped: UnaryHandler,
  pipeline: CallPipeline,
  maxTimeoutMs: number,
): grpc.handleUnaryCall<unknown, unknown> {
  const method = service.methods.find((m) => m.localName === methodName);
  if (method === undefined) throw new Error(`${service.typeName} has no method ${methodName}`);
  const path = `/${service.typeName}/${method.name}`;
  const overloaded = overloadedError();
  return (call, callback) => {
    // Admission before anything is built for the call (grpc-js has decoded the message already).
    if (!pipeline.admit()) {
      pipeline.refused(service, method, "grpc-js");
      callback(grpcStatusFromConnectError(overloaded));
      return;
    }
    const timeoutMs = timeoutOf(call);
    const ctx = new LazyCallContext({ protocolName: "grpc-js", service, method, path, requestHeader: headersOf(call.metadata), timeoutMs });
    // The peer's address for the audit log, read only when a row is written.
    ctx.values.set(peerAddressKey, () => addressOfPeer(call.getPeer()));
    // grpc-js emits "cancelled" on every call whose stream closes, answered or not; only a call
    // still running was cancelled by its client (the error, with its stack, is built only then).
    let answered = false;
    call.once("cancelled", () => {
      if (!answered) ctx.abort(new ConnectError("call cancelled by the client", Code.Canceled));
    });
    serveCall(call, ctx, wrapped, timeoutMs, maxTimeoutMs).then(
      (response) => {
        answered = true;
        ctx.finish();
        pipeline.release();
        call.sendMetadata(metadataOf(ctx.responseHeader));
        callback(null, response);
      },
      (e: unknown) => {
        answered = true;
        ctx.finish();
        pipeline.release();
        // The pipeline already mapped service errors; this also covers the checks above.
        const { error } = toClientError(e, ctx.responseHeader.get("x-request-id") ?? "");
        callback(grpcStatusFromConnectError(error, ctx.responseHeader));
      },
    );
  };
}

/** Serialized FileDescriptorProtos of the services' files and all their imports, for reflection. */
function fileDescriptorProtos(services: readonly DescService[]): Buffer[] {
  const seen = new Map<string, Buffer>();
  const visit = (file: DescFile) => {
    if (seen.has(file.proto.name)) return;
    file.dependencies.forEach(visit);
    seen.set(file.proto.name, Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto)));
  };
  for (const s of services) visit(s.file);
  return [...seen.values()];
}

export interface GrpcServerOptions {
  services: readonly ServiceRegistration[];
  pipeline: CallPipeline;
  maxTimeoutMs: number;
  /** Reported through grpc.health.v1 for the server as a whole (""). */
  isReady: () => Promise<boolean>;
  healthPollMs?: number;
}

/**
 * The native gRPC port, for internal services: grpc-js serving the same pipeline-wrapped
 * implementations as the Connect port, plus server reflection and grpc.health.v1.
 */
export async function startGrpcServer(opts: GrpcServerOptions, port: number, host: string): Promise<RunningServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    "grpc.keepalive_time_ms": 60_000,
    "grpc.max_connection_idle_ms": 300_000,
    // channelz (grpc-js' introspection service) is not served here; its per-call bookkeeping
    // (call counters, timestamps, a wrapper around each stream) would be paid for nothing.
    "grpc.enable_channelz": 0,
  });
  for (const { service, impl } of opts.services) {
    const wrapped = opts.pipeline.wrap(service, impl) as unknown as Record<string, UnaryHandler>;
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const [name, fn] of Object.entries(wrapped)) handlers[name] = unaryHandler(service, name, fn, opts.pipeline, opts.maxTimeoutMs);
    server.addService(grpcServiceDefinition(service), handlers);
  }

  // @grpc/reflection only reads `fileDescriptorProtos` of each entry; protobuf-es descriptors
  // provide exactly that, so no proto-loader package definition is built.
  const packageDefinition = {
    all: { fileDescriptorProtos: [...fileDescriptorProtos(opts.services.map((s) => s.service)), healthFileDescriptor()] },
  } as unknown as ConstructorParameters<typeof ReflectionService>[0];
  new ReflectionService(packageDefinition).addToServer(server);

  const health = new HealthImplementation({ "": "NOT_SERVING" });
  health.addToServer(server);
  const probe = async () => {
    const ready = await opts.isReady().catch(() => false);
    health.setStatus("", ready ? "SERVING" : "NOT_SERVING");
  };
  await probe();
  const poll = setInterval(() => void probe(), opts.healthPollMs ?? 5_000);
  poll.unref();

  const boundPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });

  return {
    port: boundPort,
    async close(graceMs: number) {
      clearInterval(poll);
      health.setStatus("", "NOT_SERVING");
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
