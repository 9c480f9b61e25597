import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProjectService } from "@altalune/proto";
import { TRANSPORTS, type TestApi } from "../testing/api-harness.js";
import { detailOf } from "../testing/errors.js";
import { startProxiedApi, type ProxiedApi } from "../testing/proxied-api.js";
import type { TcpProxy } from "../testing/tcp-proxy.js";

// MAX_CALLS_IN_FLIGHT: with a slow database (the proxy delays every packet), a burst beyond the
// limit is refused at once with ResourceExhausted; the admitted calls succeed.
describe("overload", () => {
  let proxied: ProxiedApi;
  let proxy: TcpProxy;
  let api: TestApi;
  let projectId: string;

  beforeAll(async () => {
    proxied = await startProxiedApi({ MAX_CALLS_IN_FLIGHT: "4" }, { max: 5 });
    ({ proxy, api } = proxied);
    projectId = (await api.client(ProjectService, "connect-json").createProject({ name: "Overload", timezone: "UTC", environment: "sandbox" })).project!.id;
  });
  afterAll(async () => {
    await proxied?.close();
  });

  // Every transport: the refusal is written by the port before connect-node or the pipeline see
  // the call, so each protocol's own form (Connect 429 JSON, gRPC and gRPC-Web trailers-only) is
  // checked by its real client decoding it — code and ErrorDetail alike.
  for (const transport of TRANSPORTS) {
    it(`${transport}: a burst of 16 against a limit of 4 — some refused at once, the admitted ones succeed`, async () => {
      const client = api.client(ProjectService, transport);
      proxy.setDelay(300);
      try {
        const results = await Promise.all(
          Array.from({ length: 16 }, async () => {
            const started = performance.now();
            try {
              await client.getProject({ id: projectId });
              return { code: "ok" as const, ms: performance.now() - started };
            } catch (e) {
              const err = ConnectError.from(e);
              return { code: err.code, detail: detailOf(err)?.code, ms: performance.now() - started };
            }
          }),
        );
        const refused = results.filter((r) => r.code === Code.ResourceExhausted);
        const ok = results.filter((r) => r.code === "ok");
        expect(refused.length).toBeGreaterThan(0);
        expect(ok.length).toBeGreaterThan(0);
        expect(ok.length + refused.length).toBe(16);
        for (const r of refused) expect(r).toMatchObject({ detail: "60016" });
        // Refused without waiting for the database: every refusal is answered before the first
        // admitted call, which waits for its delayed round trips (a relative bound, so a loaded
        // machine's slower connection setup cannot fail it).
        const slowestRefusal = Math.max(...refused.map((r) => r.ms));
        const fastestAdmitted = Math.min(...ok.map((r) => r.ms));
        expect(slowestRefusal).toBeLessThan(fastestAdmitted);
      } finally {
        proxy.setDelay(0);
      }
    });
  }

  it("Connect answers HTTP 429 for ResourceExhausted", async () => {
    proxy.setDelay(150);
    try {
      const call = () =>
        fetch(`${api.baseUrl}/altalune.v1.ProjectService/GetProject`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${api.rootToken}` },
          body: JSON.stringify({ id: projectId }),
        });
      const statuses = await Promise.all(Array.from({ length: 12 }, async () => (await call()).status));
      expect(statuses).toContain(429);
      expect(statuses).toContain(200);
    } finally {
      proxy.setDelay(0);
    }
  });
});
