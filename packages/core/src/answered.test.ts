import { createServer, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { onceAnswered } from "./answered.js";

// A real node:http server and a raw socket, so pipelining is exactly what the client wrote.
async function server() {
  const answered: string[] = [];
  const held: ServerResponse[] = [];
  const srv = createServer((req, res) => {
    onceAnswered(req, res, () => answered.push(req.url ?? ""));
    if (req.url === "/now") res.end("ok");
    else held.push(res);
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as AddressInfo).port;
  const close = () => new Promise<void>((resolve) => (srv.closeAllConnections(), srv.close(() => resolve())));
  return { port, answered, held, close };
}

const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

describe("onceAnswered", () => {
  it("fires once per request: when its response finishes, and for every pipelined request when the connection closes", async () => {
    const s = await server();
    try {
      const socket = connect(s.port, "127.0.0.1");
      await new Promise<void>((resolve) => socket.once("connect", resolve));
      socket.write("GET /now HTTP/1.1\r\nhost: x\r\n\r\n");
      await settle();
      expect(s.answered).toEqual(["/now"]);
      // Three more in one write: /a holds the connection's answer queue, /b and /c wait behind it.
      socket.write(["/a", "/b", "/c"].map((p) => `GET ${p} HTTP/1.1\r\nhost: x\r\n\r\n`).join(""));
      await settle();
      expect(s.held).toHaveLength(3);
      socket.destroy();
      await settle();
      expect([...s.answered].sort()).toEqual(["/a", "/b", "/c", "/now"]);
      // A response finished after its connection closed does not count it twice.
      s.held.forEach((res) => res.end());
      await settle();
      expect(s.answered).toHaveLength(4);
    } finally {
      await s.close();
    }
  });
});
