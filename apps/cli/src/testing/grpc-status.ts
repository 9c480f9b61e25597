import { connect as http2Connect } from "node:http2";

/**
 * Native gRPC over HTTP/2 (the grpc-js port): an empty QueryProjectsRequest, judged by its
 * grpc-status only ("0" OK, "16" Unauthenticated, …), so no generated client is needed.
 */
export function grpcStatus(address: string, authorization?: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`http://${address}`);
    session.on("error", reject);
    const req = session.request({
      ":method": "POST",
      ":path": "/altalune.v1.ProjectService/QueryProjects",
      "content-type": "application/grpc",
      te: "trailers",
      ...(authorization ? { authorization } : {}),
    });
    let status: string | undefined;
    req.on("response", (headers) => (status = headers["grpc-status"] as string | undefined));
    req.on("trailers", (trailers) => (status = trailers["grpc-status"] as string | undefined));
    req.on("data", () => {});
    req.on("end", () => {
      session.close();
      resolve(status);
    });
    req.end(Buffer.alloc(5));
  });
}
