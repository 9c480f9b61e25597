import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Writable } from "node:stream";
import { brotliCompressSync, gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AppError, createLogger } from "@altalune/core";
import { GetProjectRequestSchema, ProjectService } from "@altalune/proto";
import { LazyCallContext } from "./call-context.js";
import { registration, startConnectServer, type RunningServer } from "./connect-server.js";
import { CallPipeline } from "./pipeline.js";

// The Connect port answers common unary calls on its own path (connect-unary.ts) and everything
// else through connect-node. The same requests go to a server with that path and to one without
// it; every answer (status, headers, body bytes) must be the same, and the path must really have
// been taken where it applies.

const takenBy: Array<"own" | "connect-node"> = [];
const reasons: unknown[] = [];
const project = (id: string, description = "d") => ({ id, name: "Project", description, timezone: "Asia/Jakarta", environment: "live" });

const impl = {
  async getProject(req: { id: string }, ctx: HandlerContext) {
    switch (req.id) {
      case "withmetadata01":
        throw new ConnectError("gone", Code.NotFound, { "x-why": "because" });
      case "plainfailure01":
        throw new Error("password=hunter2 connection refused");
      case "apperror000001":
        throw new AppError({ code: "60301", status: "not_found", message: "project not found", meta: { project_id: req.id } });
      case "waitforabort01": {
        const signal = ctx.signal;
        await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
        reasons.push(signal.reason);
        return { project: project(req.id) };
      }
    }
    if (req.id === "timeoutprobe01") return { project: project(req.id, ctx.timeoutMs() === undefined ? "no deadline" : "deadline") };
    ctx.responseHeader.set("x-extra", "1");
    ctx.responseHeader.append("set-cookie", "a=1");
    ctx.responseHeader.append("set-cookie", "b=2");
    ctx.responseTrailer.set("x-trail", "t");
    return { project: project(req.id, req.id === "bigbigbigbig01" ? "x".repeat(3000) : "d") };
  },
  async queryProjects() {
    return { data: [], meta: undefined };
  },
  async createProject() {
    throw new Error("not used");
  },
  async updateProject() {
    throw new Error("not used");
  },
  async deleteProject() {
    return { message: "deleted" };
  },
};

const sink = new Writable({ write: (_chunk, _enc, done) => done() });
const pipeline = new CallPipeline({
  logger: createLogger({ level: "info", destination: sink }),
  authorize: (_call, _req, ctx) => {
    takenBy.push(ctx instanceof LazyCallContext ? "own" : "connect-node");
    if (ctx.requestHeader.get("x-deny") !== null) throw new ConnectError("permission denied: requires project:read", Code.PermissionDenied);
  },
});

let own: RunningServer;
let stock: RunningServer;
beforeAll(async () => {
  const services = [registration(ProjectService, impl)];
  own = await startConnectServer({ services, pipeline, maxTimeoutMs: 5_000 }, 0, "127.0.0.1");
  stock = await startConnectServer({ services, pipeline, maxTimeoutMs: 5_000, unaryFastPath: false }, 0, "127.0.0.1");
});
afterAll(async () => {
  await own?.close(500);
  await stock?.close(500);
});

interface Case {
  what: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
  status: number;
  /** Which adapter reached the pipeline on the server with the own path (none: the request never got that far). */
  via?: "own" | "connect-node";
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const TOO_BIG = new Uint8Array(4 * 1024 * 1024 + 1).fill(0x20);
const GET_PROJECT = "/api/altalune.v1.ProjectService/GetProject";
const JSON_TYPE = { "content-type": "application/json" };
const json = (id: string) => JSON.stringify({ id });
const binary = (id: string) => toBinary(GetProjectRequestSchema, create(GetProjectRequestSchema, { id }));
// Headers that carry the moment or the connection, not the answer.
const UNCOMPARED = new Set(["date", "connection", "keep-alive"]);

function h1(port: number, c: Case): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = typeof c.body === "string" ? Buffer.from(c.body) : Buffer.from(c.body ?? new Uint8Array());
    const headers: Record<string, string | number> = { "x-request-id": "req-fixed-1", ...c.headers };
    if (!c.chunked) headers["content-length"] = body.length;
    const req = http.request({ host: "127.0.0.1", port, method: c.method ?? "POST", path: c.path ?? GET_PROJECT, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const kept = Object.fromEntries(Object.entries(res.headers).filter(([k]) => !UNCOMPARED.has(k)));
        resolve({ status: res.statusCode ?? 0, headers: kept, body: Buffer.concat(chunks) });
      });
    });
    req.on("error", reject);
    if (c.chunked) req.write(body);
    req.end(c.chunked ? undefined : body);
  });
}

function h2(port: number, c: Case): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const isGet = (c.method ?? "POST") === "GET";
    session.on("error", reject);
    const body = typeof c.body === "string" ? Buffer.from(c.body) : Buffer.from(c.body ?? new Uint8Array());
    const headers: http2.OutgoingHttpHeaders = { ":method": c.method ?? "POST", ":path": c.path ?? GET_PROJECT, "x-request-id": "req-fixed-1", ...c.headers };
    if (!c.chunked) headers["content-length"] = body.length;
    const stream = session.request(headers, { endStream: isGet });
    let status = 0;
    let kept: Answer["headers"] = {};
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      kept = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(":") && !UNCOMPARED.has(k)));
    });
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      session.close();
      resolve({ status, headers: kept, body: Buffer.concat(chunks) });
    });
    stream.on("error", reject);
    if (!isGet) stream.end(body);
  });
}

const cases: Case[] = [
  { what: "JSON success, response headers, cookies and a trailer", headers: JSON_TYPE, body: json("p0000000000001"), status: 200, via: "own" },
  { what: "binary success", headers: { "content-type": "application/proto" }, body: binary("p0000000000001"), status: 200, via: "own" },
  { what: "unknown JSON field", headers: JSON_TYPE, body: JSON.stringify({ id: "p0000000000001", nope: 1 }), status: 200, via: "own" },
  { what: "JSON that does not parse", headers: JSON_TYPE, body: "{", status: 400 },
  { what: "JSON of the wrong shape", headers: JSON_TYPE, body: JSON.stringify({ id: 7 }), status: 400 },
  { what: "bytes that do not decode", headers: { "content-type": "application/proto" }, body: new Uint8Array([0x0a, 0xff]), status: 400 },
  { what: "empty JSON body (not JSON)", headers: JSON_TYPE, body: "", status: 400 },
  { what: "empty binary body (validation fails)", headers: { "content-type": "application/proto" }, body: "", status: 400, via: "own" },
  { what: "refused by the auth step", headers: { ...JSON_TYPE, "x-deny": "1" }, body: json("p0000000000001"), status: 403, via: "own" },
  { what: "ConnectError with metadata", headers: JSON_TYPE, body: json("withmetadata01"), status: 404, via: "own" },
  { what: "AppError with details", headers: JSON_TYPE, body: json("apperror000001"), status: 404, via: "own" },
  { what: "unexpected failure", headers: JSON_TYPE, body: json("plainfailure01"), status: 500, via: "own" },
  { what: "error answered in binary", headers: { "content-type": "application/proto" }, body: binary("apperror000001"), status: 404, via: "own" },
  { what: "small answer, client accepts gzip", headers: { ...JSON_TYPE, "accept-encoding": "gzip, deflate, br" }, body: json("p0000000000001"), status: 200, via: "own" },
  { what: "large answer, gzip", headers: { ...JSON_TYPE, "accept-encoding": "gzip" }, body: json("bigbigbigbig01"), status: 200, via: "own" },
  { what: "large answer, br first", headers: { ...JSON_TYPE, "accept-encoding": "br, gzip" }, body: json("bigbigbigbig01"), status: 200, via: "own" },
  { what: "large answer, unsupported encoding", headers: { ...JSON_TYPE, "accept-encoding": "zstd" }, body: json("bigbigbigbig01"), status: 200, via: "own" },
  { what: "connect-protocol-version 1", headers: { ...JSON_TYPE, "connect-protocol-version": "1" }, body: json("p0000000000001"), status: 200, via: "own" },
  { what: "JSON with a charset", headers: { "content-type": "application/json; charset=utf-8" }, body: json("p0000000000001"), status: 200, via: "own" },
  { what: "content type in capitals", headers: { "content-type": "Application/JSON" }, body: json("p0000000000001"), status: 200, via: "own" },
  { what: "with a timeout", headers: { ...JSON_TYPE, "connect-timeout-ms": "1000" }, body: json("p0000000000001"), status: 200, via: "own" },
  { what: "timeout above the limit", headers: { ...JSON_TYPE, "connect-timeout-ms": "60000" }, body: json("p0000000000001"), status: 400 },
  { what: "timeout that is not a number", headers: { ...JSON_TYPE, "connect-timeout-ms": "soon" }, body: json("p0000000000001"), status: 400 },
  { what: "gzipped request", headers: { ...JSON_TYPE, "content-encoding": "gzip" }, body: gzipSync(json("p0000000000001")), status: 200, via: "own" },
  { what: "gzipped request, no accept-encoding: gzipped answer", headers: { ...JSON_TYPE, "content-encoding": "gzip" }, body: gzipSync(json("bigbigbigbig01")), status: 200, via: "own" },
  { what: "brotli request", headers: { ...JSON_TYPE, "content-encoding": "br" }, body: brotliCompressSync(json("p0000000000001")), status: 200, via: "own" },
  { what: "identity request encoding", headers: { ...JSON_TYPE, "content-encoding": "identity" }, body: json("p0000000000001"), status: 200, via: "own" },
  { what: "gzipped request above the read limit once inflated", headers: { ...JSON_TYPE, "content-encoding": "gzip" }, body: gzipSync(TOO_BIG), status: 429 },
  { what: "timeout of 0", headers: { ...JSON_TYPE, "connect-timeout-ms": "0" }, body: json("p0000000000001"), status: 200, via: "own" },
  { what: "compressed request cut short", headers: { ...JSON_TYPE, "content-encoding": "gzip" }, body: new Uint8Array([0x1f, 0x8b, 0x08, 0x00]), status: 400 },
  { what: "unsupported request encoding", headers: { ...JSON_TYPE, "content-encoding": "zstd" }, body: json("p0000000000001"), status: 501 },
  // Not a unary Connect call sent with POST: connect-node answers on both servers.
  { what: "chunked body", headers: JSON_TYPE, body: json("p0000000000001"), chunked: true, status: 200, via: "own" },
  { what: "chunked body above the read limit", headers: JSON_TYPE, body: TOO_BIG, chunked: true, status: 429 },
  { what: "Content-Length above the read limit", headers: JSON_TYPE, body: TOO_BIG, status: 429 },
  { what: "GET of a read", method: "GET", path: `${GET_PROJECT}?encoding=json&message=${encodeURIComponent(json("p0000000000001"))}`, status: 200, via: "connect-node" },
  { what: "GET of a mutation", method: "GET", path: "/api/altalune.v1.ProjectService/DeleteProject?encoding=json&message=%7B%7D", status: 405 },
  { what: "POST with a query string", path: `${GET_PROJECT}?x=1`, headers: JSON_TYPE, body: json("p0000000000001"), status: 200, via: "connect-node" },
  { what: "PUT", method: "PUT", headers: JSON_TYPE, body: json("p0000000000001"), status: 405 },
  { what: "text/plain", headers: { "content-type": "text/plain" }, body: json("p0000000000001"), status: 415 },
  { what: "streaming content type", headers: { "content-type": "application/connect+json" }, body: json("p0000000000001"), status: 415 },
  { what: "unknown method", path: "/api/altalune.v1.ProjectService/Nope", headers: JSON_TYPE, body: "{}", status: 404 },
];

describe("the Connect port's unary path answers as connect-node does", () => {
  for (const [transport, send] of [
    ["HTTP/1.1", h1],
    ["h2c", h2],
  ] as const) {
    for (const c of cases) {
      const via = c.via;
      it(`${transport}: ${c.what}`, async () => {
        takenBy.length = 0;
        const mine = await send(own.port, c);
        const reached = [...takenBy];
        takenBy.length = 0;
        const theirs = await send(stock.port, c);
        expect(mine.status).toBe(c.status);
        expect(mine).toEqual(theirs);
        expect(reached).toEqual(via === undefined ? [] : [via]);
        expect(takenBy).toEqual(via === undefined ? [] : ["connect-node"]);
      });
    }
  }

  it("gives the handler the call's deadline", async () => {
    const withTimeout = await h1(own.port, { what: "", headers: { ...JSON_TYPE, "connect-timeout-ms": "1000" }, body: json("timeoutprobe01"), status: 200 });
    expect(JSON.parse(withTimeout.body.toString()).project.description).toBe("deadline");
    const without = await h1(own.port, { what: "", headers: JSON_TYPE, body: json("timeoutprobe01"), status: 200 });
    expect(JSON.parse(without.body.toString()).project.description).toBe("no deadline");
    expect(withTimeout.body).toEqual((await h1(stock.port, { what: "", headers: { ...JSON_TYPE, "connect-timeout-ms": "1000" }, body: json("timeoutprobe01"), status: 200 })).body);
  });

  it("compresses a large answer and leaves a small one alone", async () => {
    const big = await h1(own.port, cases.find((c) => c.what === "large answer, gzip")!);
    expect(big.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(gunzipSync(big.body).toString()).project.description).toHaveLength(3000);
    const small = await h1(own.port, cases.find((c) => c.what === "small answer, client accepts gzip")!);
    expect(small.headers["content-encoding"]).toBeUndefined();
    expect(small.headers["trailer-x-trail"]).toBe("t");
    expect(small.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
  });

  it("tells a handler when the client goes away, and frees the call's slot", async () => {
    reasons.length = 0;
    const socket = await new Promise<import("node:net").Socket>((resolve) => {
      const req = http.request({ host: "127.0.0.1", port: own.port, method: "POST", path: GET_PROJECT, headers: JSON_TYPE, agent: false });
      req.on("socket", (s) => resolve(s));
      req.on("error", () => {});
      req.end(json("waitforabort01"));
    });
    await expect.poll(() => pipeline.activeCalls).toBe(1);
    socket.destroy();
    await expect.poll(() => reasons.length).toBe(1);
    expect(reasons[0]).toBeInstanceOf(ConnectError);
    expect((reasons[0] as ConnectError).code).toBe(Code.Canceled);
    await expect.poll(() => pipeline.activeCalls).toBe(0);
  });

  it("refuses a request without a valid Host, on both paths, and stays up", async () => {
    const raw = (port: number, head: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1", () => socket.end(`${head}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`));
        let answer = "";
        socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
        socket.on("end", () => resolve(answer));
        socket.on("error", reject);
      });
    for (const server of [own, stock]) {
      for (const head of [`POST ${GET_PROJECT} HTTP/1.0`, `POST ${GET_PROJECT} HTTP/1.1\r\nhost: a b`, `POST ${GET_PROJECT} HTTP/1.1\r\nhost: x:99999`, `GET /api/nope HTTP/1.0`]) {
        const answer = await raw(server.port, head);
        expect(answer).toMatch(/^HTTP\/1\.1 400 /);
        expect(answer).toContain('"code":"invalid_argument"');
      }
      expect((await h1(server.port, cases[0]!)).status).toBe(200);
    }
  });

  it("serves connect-es clients, JSON and binary", async () => {
    for (const useBinaryFormat of [false, true]) {
      const client = createClient(ProjectService, createConnectTransport({ baseUrl: `http://127.0.0.1:${own.port}/api`, httpVersion: "1.1", useBinaryFormat }));
      takenBy.length = 0;
      const res = await client.getProject({ id: "p0000000000001" });
      expect(res.project?.name).toBe("Project");
      expect(takenBy).toEqual(["own"]);
      const failed = await client.getProject({ id: "apperror000001" }).catch((e: unknown) => ConnectError.from(e));
      expect(failed).toBeInstanceOf(ConnectError);
      expect((failed as ConnectError).code).toBe(Code.NotFound);
    }
  });
});
