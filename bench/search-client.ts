// The RPC client of bench:search, in its own process (forked by employee-search.ts): the server's
// latency is then not inflated by the client's own CPU on a shared event loop. Connect binary over
// h2c with the bench's token; one call per message from the parent, timed here, from the call to
// its decoded answer.
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { EmployeeService, QueryEmployeesRequestSchema } from "@altalune/proto";

export interface SearchClientInit {
  baseUrl: string;
  authorization: string;
}
export interface SearchCall {
  id: number;
  projectId: string;
  keyword: string;
  filters: Record<string, { values: string[] }>;
  pageSize: number;
}
export type SearchAnswer = { id: number; ms: number; rows: number; total: number } | { id: number; error: string };

const init = JSON.parse(process.argv[2] ?? "{}") as SearchClientInit;
const transport = createConnectTransport({
  baseUrl: init.baseUrl,
  httpVersion: "2",
  useBinaryFormat: true,
  interceptors: [(next) => (req) => (req.header.set("authorization", init.authorization), next(req))],
});
const employees = createClient(EmployeeService, transport);

process.on("message", (call: SearchCall) => {
  const req = create(QueryEmployeesRequestSchema, {
    projectId: call.projectId,
    query: { pagination: { page: 1, pageSize: call.pageSize }, keyword: call.keyword, filters: call.filters },
  });
  const started = performance.now();
  employees.queryEmployees(req).then(
    (res) => process.send?.({ id: call.id, ms: performance.now() - started, rows: res.data.length, total: res.meta?.rowCount ?? 0 } satisfies SearchAnswer),
    (e: unknown) => process.send?.({ id: call.id, error: String(e) } satisfies SearchAnswer),
  );
});
process.on("disconnect", () => process.exit(0));
