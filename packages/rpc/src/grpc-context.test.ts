import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { createLogger } from "@altalune/core";
import { ConfigService } from "@altalune/proto";
import { registration, type RunningServer } from "./connect-server.js";
import { grpcServiceDefinition, startGrpcServer } from "./grpc-server.js";
import { CallPipeline } from "./pipeline.js";

// The grpc-js port builds its own HandlerContext, whose signal is made on first read: it must
// still report a client's cancellation and the call's deadline, whenever the handler looks.
const reasons: unknown[] = [];
let readSignalAfterMs = 0;
let handlersStarted = 0;
const impl = {
  async getPublicConfig(_req: unknown, ctx: HandlerContext) {
    handlersStarted++;
    if (readSignalAfterMs > 0) await new Promise((r) => setTimeout(r, readSignalAfterMs));
    const signal = ctx.signal;
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    reasons.push(signal.reason);
    return {};
  },
};

let server: RunningServer;
let raw: grpc.Client & Record<string, (...a: unknown[]) => grpc.ClientUnaryCall>;
beforeAll(async () => {
  const pipeline = new CallPipeline({ logger: createLogger({ level: "silent" }), authorize: () => {} });
  server = await startGrpcServer(
    { services: [registration(ConfigService, impl)], pipeline, maxTimeoutMs: 5_000, isReady: async () => true },
    0,
    "127.0.0.1",
  );
  const Ctor = grpc.makeGenericClientConstructor(grpcServiceDefinition(ConfigService), "ConfigService");
  raw = new Ctor(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) as typeof raw;
});
afterAll(async () => {
  raw?.close();
  await server?.close(200);
});

async function nextReason(): Promise<unknown> {
  for (let i = 0; i < 100 && reasons.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  return reasons.shift();
}

describe("the grpc-js port's call context", () => {
  it.each([0, 150])("aborts the handler's signal when the client cancels (signal read after %i ms)", async (after) => {
    readSignalAfterMs = after;
    const startedBefore = handlersStarted;
    const call = raw["getPublicConfig"]!({}, new grpc.Metadata(), {}, () => {});
    // Cancelled once the server runs the handler (a fixed wait failed on a loaded machine: the
    // cancellation overtook the call, and no handler ever ran).
    for (let i = 0; i < 250 && handlersStarted === startedBefore; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 20));
    call.cancel();
    const reason = await nextReason();
    expect(reason).toBeInstanceOf(ConnectError);
    expect((reason as ConnectError).code).toBe(Code.Canceled);
  });

  it.each([0, 150])("aborts the handler's signal at the call's deadline (signal read after %i ms)", async (after) => {
    readSignalAfterMs = after;
    const started = Date.now();
    const status = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw["getPublicConfig"]!({}, new grpc.Metadata(), { deadline: Date.now() + 100 }, (e: grpc.ServiceError | null) => resolve(e)),
    );
    expect(status?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const reason = await nextReason();
    // grpc-js cancels the stream at the deadline itself, which usually comes first.
    expect([Code.Canceled, Code.DeadlineExceeded]).toContain((reason as ConnectError).code);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });
});
