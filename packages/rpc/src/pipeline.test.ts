import { Writable } from "node:stream";
import * as grpcJs from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient, type ServiceImpl } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AppError, createLogger } from "@altalune/core";
import { ConfigService, ErrorDetailSchema, ProjectService } from "@altalune/proto";
import { createGrpcJsClient } from "./grpc-client.js";
import { registration, startConnectServer, type RunningServer } from "./connect-server.js";
import { startGrpcServer } from "./grpc-server.js";
import { CallPipeline, type CallInfo } from "./pipeline.js";

// A pipeline around a deliberately failing ConfigService, served on both ports.
const lines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
const seen: CallInfo[] = [];
let mode: "secret-failure" | "app-error" | "slow" = "secret-failure";
const pipeline = new CallPipeline({
  logger: createLogger({ level: "info", destination: sink }),
  authorize: (call) => {
    seen.push(call);
  },
});
const failing = {
  async getPublicConfig() {
    if (mode === "app-error") throw new AppError({ code: "69999", status: "failed_precondition", message: "nope", meta: { k: "v" } });
    if (mode === "slow") {
      await new Promise((r) => setTimeout(r, 300));
      return { branding: { dashboardName: "slow", authServerName: "slow" } };
    }
    throw new Error("password=hunter2 connection refused");
  },
};

let connect: RunningServer;
let grpc: RunningServer;
beforeAll(async () => {
  const services = [registration(ConfigService, failing)];
  connect = await startConnectServer({ services, pipeline, maxTimeoutMs: 5_000 }, 0, "127.0.0.1");
  grpc = await startGrpcServer({ services, pipeline, maxTimeoutMs: 5_000, isReady: async () => true }, 0, "127.0.0.1");
});
afterAll(async () => {
  await connect?.close(500);
  await grpc?.close(500);
});

function clients() {
  const baseUrl = `http://127.0.0.1:${connect.port}/api`;
  const grpcJs = createGrpcJsClient(ConfigService, `127.0.0.1:${grpc.port}`);
  return {
    "connect-json": createClient(ConfigService, createConnectTransport({ baseUrl, httpVersion: "1.1" })),
    "grpc-js": grpcJs.client,
  };
}

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected failure");
}

describe("call pipeline", () => {
  it("hides unexpected errors behind the request id, on both ports", async () => {
    mode = "secret-failure";
    for (const [name, client] of Object.entries(clients())) {
      const e = await failure(client.getPublicConfig({}, { headers: { "x-request-id": `req-${name}` } }));
      expect(e.code).toBe(Code.Internal);
      expect(e.rawMessage).toBe(`internal error (request id req-${name})`);
      expect(e.rawMessage).not.toContain("hunter2");
      const logged = lines.find((l) => l["requestId"] === `req-${name}` && l["msg"] === "call failed unexpectedly");
      expect(logged).toBeDefined();
    }
  });

  it("maps AppError to its code and ErrorDetail, identically on both ports", async () => {
    mode = "app-error";
    for (const client of Object.values(clients())) {
      const e = await failure(client.getPublicConfig({}));
      expect(e.code).toBe(Code.FailedPrecondition);
      expect(e.rawMessage).toBe("nope");
      const [detail] = e.findDetails(ErrorDetailSchema);
      expect(detail?.code).toBe("69999");
      expect(detail?.meta).toEqual({ k: "v" });
    }
  });

  it("accepts a sane x-request-id, replaces an unsafe one, and logs one line per call", async () => {
    mode = "slow";
    const { "connect-json": client } = clients();
    let header: string | null = null;
    await client.getPublicConfig({}, { headers: { "x-request-id": "abc-123" }, onHeader: (h) => (header = h.get("x-request-id")) });
    expect(header).toBe("abc-123");
    await client.getPublicConfig({}, { headers: { "x-request-id": "bad id with spaces" }, onHeader: (h) => (header = h.get("x-request-id")) });
    expect(header).toMatch(/^[0-9a-f-]{36}$/);
    const line = lines.find((l) => l["requestId"] === "abc-123" && l["msg"] === "rpc");
    expect(line).toMatchObject({ service: "altalune.v1.ConfigService", method: "GetPublicConfig", transport: "connect", code: "OK" });
    expect(typeof line?.["durationMs"]).toBe("number");
  });

  it("passes the method's rule to the auth step", () => {
    expect(seen.at(-1)?.rule.public).toBe(true);
    expect(seen.at(-1)?.method.name).toBe("GetPublicConfig");
  });

  it("refuses deadlines beyond the limit on both ports", async () => {
    mode = "slow";
    for (const client of Object.values(clients())) {
      const e = await failure(client.getPublicConfig({}, { timeoutMs: 60_000 }));
      expect(e.code).toBe(Code.InvalidArgument);
    }
  });

  it("ends calls that exceed their deadline", async () => {
    mode = "slow";
    for (const client of Object.values(clients())) {
      const e = await failure(client.getPublicConfig({}, { timeoutMs: 50 }));
      expect(e.code).toBe(Code.DeadlineExceeded);
    }
  });

  it("refuses to serve a service with a missing implementation", () => {
    expect(() => pipeline.wrap(ProjectService, {} as ServiceImpl<typeof ProjectService>)).toThrow(/QueryProjects: the service object has no method for it/);
  });

  it("lets in-flight calls finish on shutdown", async () => {
    mode = "slow";
    const extra = await startConnectServer({ services: [registration(ConfigService, failing)], pipeline, maxTimeoutMs: 5_000 }, 0, "127.0.0.1");
    const client = createClient(ConfigService, createConnectTransport({ baseUrl: `http://127.0.0.1:${extra.port}/api`, httpVersion: "1.1" }));
    const inFlight = client.getPublicConfig({});
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await extra.close(5_000);
    expect((await inFlight).branding?.dashboardName).toBe("slow");
    // Keep-alive connections are closed once idle: shutdown does not wait out the grace period.
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

/** Sends raw bytes as a request to the native gRPC port, bypassing any client-side encoding. */
function rawGrpcCall(path: string, body: Buffer): Promise<grpcJs.ServiceError | Buffer> {
  const client = new grpcJs.Client(`127.0.0.1:${grpc.port}`, grpcJs.credentials.createInsecure(), {
    "grpc.max_send_message_length": -1,
  });
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, (err, value) => {
      client.close();
      resolve(err ?? value ?? Buffer.alloc(0));
    });
  });
}

function rawConnectCall(path: string, contentType: string, body: Buffer | string) {
  return fetch(`http://127.0.0.1:${connect.port}/api${path}`, {
    method: "POST",
    headers: { "content-type": contentType },
    body,
  });
}

describe("bytes that are not a valid request", () => {
  const path = "/altalune.v1.ConfigService/GetPublicConfig";
  // Field 1 as a length-delimited value claiming 100 bytes that never come.
  const truncated = Buffer.from([0x0a, 0x64, 0x01]);
  const oversized = Buffer.alloc(5 * 1024 * 1024, 0x41);

  it("malformed protobuf → InvalidArgument on both ports", async () => {
    const grpcResult = await rawGrpcCall(path, truncated);
    expect((grpcResult as grpcJs.ServiceError).code).toBe(grpcJs.status.INVALID_ARGUMENT);
    const res = await rawConnectCall(path, "application/proto", truncated);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
  });

  it("malformed JSON → InvalidArgument", async () => {
    const res = await rawConnectCall(path, "application/json", '{"unterminated": ');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
  });

  it("a message over 4 MiB → ResourceExhausted on both ports", async () => {
    const grpcResult = await rawGrpcCall(path, oversized);
    expect((grpcResult as grpcJs.ServiceError).code).toBe(grpcJs.status.RESOURCE_EXHAUSTED);
    const res = await rawConnectCall(path, "application/proto", oversized);
    expect(((await res.json()) as { code: string }).code).toBe("resource_exhausted");
  });
});
