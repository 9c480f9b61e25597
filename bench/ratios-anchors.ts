// The anchors of bench/ratios.ts, in their own process: what the trivial RPC costs with nothing of
// ours around it.
// - a bare grpc-js server on the same path as ConfigService/GetPublicConfig, answering fixed bytes
//   (identity serializers: no protobuf work at all);
// - a bare node:http server answering the same JSON body Connect JSON answers.
// Prints `anchors <grpcPort> <httpPort>` on stdout once both listen. Args: <reply base64> <json body>.
import http from "node:http";
import * as grpc from "@grpc/grpc-js";

const [replyBase64 = "", jsonBody = "{}"] = process.argv.slice(2);
const reply = Buffer.from(replyBase64, "base64");
const identity = (b: Buffer) => b;

const grpcServer = new grpc.Server();
grpcServer.addService(
  {
    GetPublicConfig: {
      path: "/altalune.v1.ConfigService/GetPublicConfig",
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  { GetPublicConfig: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, reply) },
);
const grpcPort = await new Promise<number>((resolve, reject) =>
  grpcServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))),
);

const body = Buffer.from(jsonBody);
const httpServer = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  // Read the request body like a real handler would, then answer.
  req.resume();
  req.once("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
});
await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
const address = httpServer.address();
const httpPort = typeof address === "object" && address !== null ? address.port : 0;
process.stdout.write(`anchors ${grpcPort} ${httpPort}\n`);
process.on("SIGTERM", () => process.exit(0));
