import * as grpc from "@grpc/grpc-js";
import type { DescService } from "@bufbuild/protobuf";
import { ConnectError, type Client } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { grpcServiceDefinition } from "./grpc-server.js";

type GenericCall = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, value?: unknown) => void,
) => grpc.ClientUnaryCall;

/** A grpc-js ServiceError as the ConnectError a Connect client would have raised. */
function connectErrorOf(err: grpc.ServiceError): ConnectError {
  const trailer = new Headers({ "grpc-status": String(err.code), "grpc-message": encodeURIComponent(err.details) });
  const details = err.metadata.get("grpc-status-details-bin")[0];
  if (details !== undefined) trailer.set("grpc-status-details-bin", Buffer.from(details).toString("base64"));
  const found = findTrailerError(trailer) ?? new ConnectError(err.details, err.code as number);
  err.metadata.remove("grpc-status-details-bin");
  for (const [key, value] of Object.entries(err.metadata.getMap())) {
    if (typeof value === "string") found.metadata.set(key, value);
  }
  return found;
}

export interface GrpcJsClient<S extends DescService> {
  client: Client<S>;
  close(): void;
}

/**
 * A grpc-js client for any of our services, built from the protobuf-es descriptors, presented
 * with the same shape as a Connect client, so one table of tests runs over every transport.
 */
export function createGrpcJsClient<S extends DescService>(
  service: S,
  address: string,
  headers?: Record<string, string>,
): GrpcJsClient<S> {
  const Ctor = grpc.makeGenericClientConstructor(grpcServiceDefinition(service), service.name);
  const raw = new Ctor(address, grpc.credentials.createInsecure()) as unknown as Record<string, GenericCall> & grpc.Client;
  const client: Record<string, (request: unknown, options?: { headers?: Record<string, string>; timeoutMs?: number }) => Promise<unknown>> = {};
  for (const method of service.methods) {
    const call = raw[method.localName];
    if (call === undefined) throw new Error(`grpc-js client has no ${method.localName}`);
    client[method.localName] = (request, options) =>
      new Promise((resolve, reject) => {
        const metadata = new grpc.Metadata();
        for (const [k, v] of Object.entries({ ...headers, ...options?.headers })) metadata.set(k, v);
        const callOptions: grpc.CallOptions =
          options?.timeoutMs === undefined ? {} : { deadline: Date.now() + options.timeoutMs };
        call.call(raw, request, metadata, callOptions, (err, value) => (err ? reject(connectErrorOf(err)) : resolve(value)));
      });
  }
  return { client: client as unknown as Client<S>, close: () => raw.close() };
}
