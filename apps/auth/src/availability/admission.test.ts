import { createServer, request, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { captureLogger } from "@altalune/test-kit";
import { admission } from "./admission.js";

// The in-flight gate on a real node:http server: the "app" behind it holds every request until
// the test lets it go, so the slots are full exactly when the test says.
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** `work`, when given, is the handler's own promise: what it still does after it stops answering. */
async function gated(maxInFlight: number, production = false, work?: () => Promise<void>) {
  const held: ServerResponse[] = [];
  const refusals: { path: string; method: string | undefined; status: number }[] = [];
  const listener = admission(
    {
      maxInFlight,
      brand: "Altalune",
      production,
      countRefusal: (path, method, status) => refusals.push({ path, method, status }),
      logger: captureLogger("debug").logger,
    },
    (req, res) => {
      if (req.url === "/healthz" || req.url === "/readyz") return res.end("probe");
      held.push(res);
      return work?.();
    },
  );
  server = createServer(listener);
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const call = (method: string, path: string, headers: Record<string, string> = {}) =>
    new Promise<Answer>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.once("error", reject);
      req.end();
    });
  const until = async (n: number) => {
    for (let i = 0; held.length < n; i++) {
      if (i > 200) throw new Error(`only ${held.length} requests reached the app`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const releaseAll = () => held.splice(0).forEach((res) => res.end("done"));
  /** Forgets the held answers, sends these requests, and once all reached the app answers them: their statuses. */
  const admitsAgain = async (method: string, paths: string[]) => {
    held.splice(0);
    const next = paths.map((path) => call(method, path));
    await until(paths.length);
    releaseAll();
    return (await Promise.all(next)).map((a) => a.status);
  };
  return { call, until, releaseAll, admitsAgain, held, refusals, port };
}

/** A connection that sends exactly `text` (pipelining as written), for the test to destroy. */
async function rawRequests(port: number, text: string): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  socket.write(text);
  return socket;
}

describe("the in-flight gate in front of Koa", () => {
  it("admits up to the limit, refuses one more at once in the caller's form, and admits again once a slot frees", async () => {
    const gate = await gated(2);
    const first = gate.call("POST", "/oauth/token");
    const second = gate.call("GET", "/interaction/abc");
    await gate.until(2);

    // OAuth endpoints: OAuth JSON temporarily_unavailable, Retry-After, no-store.
    const token = await gate.call("POST", "/oauth/token?x=1");
    expect(token.status).toBe(503);
    expect(token.headers["retry-after"]).toBe("1");
    expect(token.headers["cache-control"]).toBe("no-store");
    expect(token.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(JSON.parse(token.body)).toEqual({ error: "temporarily_unavailable", error_description: "the authorization server is at capacity; retry shortly" });
    // The same security headers as every other answer of the server.
    expect(token.headers["x-content-type-options"]).toBe("nosniff");
    expect(token.headers["x-frame-options"]).toBe("DENY");
    expect(token.headers["referrer-policy"]).toBe("no-referrer");
    expect(token.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(token.headers["strict-transport-security"]).toBeUndefined();

    // The BFF: problem+json.
    const bff = await gate.call("POST", "/oauth/refresh");
    expect(bff.status).toBe(503);
    expect(bff.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(bff.body)).toMatchObject({ type: "urn:altalune:bff:temporarily_unavailable", status: 503 });

    // A browser: the "try again" page, its stylesheet allowed by this response's nonce, a retry link for a GET.
    const page = await gate.call("GET", "/interaction/xyz?step=1", { accept: "text/html,application/xhtml+xml" });
    expect(page.status).toBe(503);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.body).toContain("Temporarily unavailable");
    expect(page.body).toContain('href="/interaction/xyz?step=1"');
    const nonce = /style-src 'nonce-([^']+)'/.exec(String(page.headers["content-security-policy"]))?.[1];
    expect(nonce).toBeDefined();
    expect(page.body).toContain(`<style nonce="${nonce}">`);
    // A caller preferring JSON elsewhere gets JSON; a HEAD gets no body.
    const json = await gate.call("GET", "/interaction/xyz", { accept: "application/json" });
    expect(JSON.parse(json.body)).toMatchObject({ error: "temporarily_unavailable" });
    const head = await gate.call("HEAD", "/interaction/xyz");
    expect(head.status).toBe(503);
    expect(head.body).toBe("");

    // Probes are never counted nor refused.
    expect((await gate.call("GET", "/readyz")).body).toBe("probe");
    expect((await gate.call("GET", "/healthz")).body).toBe("probe");

    // Each refusal was counted (the metrics middleware behind the gate never sees them).
    expect(gate.refusals).toEqual([
      { path: "/oauth/token", method: "POST", status: 503 },
      { path: "/oauth/refresh", method: "POST", status: 503 },
      { path: "/interaction/xyz", method: "GET", status: 503 },
      { path: "/interaction/xyz", method: "GET", status: 503 },
      { path: "/interaction/xyz", method: "HEAD", status: 503 },
    ]);

    // A slot is freed when a response finishes: the next request is admitted.
    gate.releaseAll();
    expect((await first).body).toBe("done");
    expect((await second).body).toBe("done");
    expect(await gate.admitsAgain("POST", ["/oauth/token"])).toEqual([200]);
    expect(gate.refusals).toHaveLength(5);
  });

  it("frees a slot when the client goes away before the answer, and adds HSTS in production", async () => {
    const gate = await gated(1, true);
    const abandoned = gate.call("POST", "/oauth/token");
    await gate.until(1);
    expect((await gate.call("POST", "/oauth/token")).headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
    // The client disconnects: the held response's connection closes and the slot is released.
    server!.closeAllConnections();
    await abandoned.catch(() => undefined);
    expect(await gate.admitsAgain("POST", ["/oauth/token"])).toEqual([200]);
  });

  it("a connection's close frees the slots of all its pipelined requests, even those whose answers were still queued", async () => {
    const gate = await gated(2);
    // Three requests in one write: two admitted (the first holds the connection's answer queue), one refused behind them.
    const socket = await rawRequests(gate.port, "GET /a HTTP/1.1\r\nhost: x\r\n\r\n".repeat(2) + "GET /c HTTP/1.1\r\nhost: x\r\n\r\n");
    await gate.until(2);
    for (let i = 0; gate.refusals.length < 1; i++) {
      if (i > 200) throw new Error("the third request was not refused");
      await new Promise((r) => setTimeout(r, 5));
    }
    socket.destroy();
    await new Promise((r) => setTimeout(r, 50));
    // Both slots are free again: two new requests reach the app.
    expect(await gate.admitsAgain("GET", ["/d", "/e"])).toEqual([200, 200]);
  });

  it("a request whose client went away keeps its slot until its handler has settled", async () => {
    let finish = () => {};
    const working = new Promise<void>((resolve) => (finish = resolve));
    const gate = await gated(1, false, () => working);
    const socket = await rawRequests(gate.port, "POST /oauth/token HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n");
    await gate.until(1);
    socket.destroy();
    await new Promise((r) => setTimeout(r, 50));
    // The handler is still at work: the next request is refused.
    expect((await gate.call("POST", "/oauth/token")).status).toBe(503);
    finish();
    await new Promise((r) => setTimeout(r, 10));
    expect(await gate.admitsAgain("POST", ["/oauth/token"])).toEqual([200]);
  });

  it("exempts only probes in origin form: an absolute-form request that resolves to /readyz is counted", async () => {
    const gate = await gated(1);
    const holder = gate.call("GET", "/a");
    await gate.until(1);
    expect((await gate.call("GET", "http://x/y/../readyz")).status).toBe(503);
    expect((await gate.call("GET", "/readyz")).body).toBe("probe");
    gate.releaseAll();
    await holder;
  });
});
