// One Resources API process for bench/audit-cost.ts: the real server on DATABASE_URL, audited,
// or (--unaudited) with the audit step off, the baseline the cost of auditing is measured
// against. Prints its ports as one JSON line, stops on SIGTERM. Not a way to run the API.
import { parseArgs } from "node:util";
import { createLogger, loadConfig } from "@altalune/core";
import { createPool } from "@altalune/db";
import { startResourcesServer } from "@altalune/resources";

const { values } = parseArgs({ options: { unaudited: { type: "boolean", default: false } } });
const config = loadConfig({ ...process.env, LOG_LEVEL: "silent" });
const sql = createPool(config.databaseUrl ?? "", { max: config.dbPoolMax });
const server = await startResourcesServer({
  sql,
  config,
  logger: createLogger({ level: "silent" }),
  ports: { connect: 0, grpc: 0, metrics: "off" },
  ...(values.unaudited ? { audit: false as const } : {}),
});
process.stdout.write(`${JSON.stringify({ connect: server.connectPort, grpc: server.grpcPort })}\n`);
process.once("SIGTERM", () => {
  void server.close().then(() => sql.end({ timeout: 5 }).then(() => process.exit(0)));
});
