import { createFileRegistry, fromBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createGrpcJsClient } from "@altalune/rpc";
// Not part of the package's public surface: the same descriptor the server publishes through reflection.
import { healthFileDescriptor } from "../../../../packages/rpc/src/health-descriptor.js";

/** grpc.health.v1.HealthCheckResponse.ServingStatus by name. */
export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";
const STATUS_NAMES: readonly ServingStatus[] = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

function healthService(): DescService {
  const registry = createFileRegistry(fromBinary(FileDescriptorProtoSchema, healthFileDescriptor()), () => undefined);
  const service = registry.getService("grpc.health.v1.Health");
  if (service === undefined) throw new Error("grpc.health.v1.Health missing from the health descriptor");
  return service;
}

/**
 * Asks a native gRPC port for the whole server's health (service ""), the way a load balancer's
 * grpc-health-probe does: grpc-js over HTTP/2, a short deadline.
 */
export async function grpcHealthStatus(address: string, timeoutMs = 1000): Promise<ServingStatus> {
  const { client, close } = createGrpcJsClient(healthService(), address);
  try {
    const check = (client as unknown as Record<string, (req: { service: string }, o: { timeoutMs: number }) => Promise<{ status: number }>>)["check"];
    if (check === undefined) throw new Error("grpc.health.v1.Health has no Check");
    const { status } = await check({ service: "" }, { timeoutMs });
    return STATUS_NAMES[status] ?? "UNKNOWN";
  } finally {
    close();
  }
}
