import { createPool } from "@altalune/db";
import { createTestDatabase, type TestDatabase } from "@altalune/db/testing";
import { startTestApi, type TestApi } from "./api-harness.js";
import { TcpProxy } from "./tcp-proxy.js";

export interface ProxiedApi {
  /** This file's database, reached directly (for the test's own checks). */
  db: TestDatabase;
  /** Between the API's pool and the database: the test slows, refuses or cuts it. */
  proxy: TcpProxy;
  api: TestApi;
  close(): Promise<void>;
}

/**
 * A Resources API whose pool reaches this file's own database only through a TCP proxy: only
 * this file's connections pass through it, the shared test server is never touched.
 */
export async function startProxiedApi(env: Record<string, string>, pool: Parameters<typeof createPool>[1]): Promise<ProxiedApi> {
  const db = await createTestDatabase();
  let proxy: TcpProxy | undefined;
  try {
    const url = new URL(db.url);
    proxy = await TcpProxy.start({ host: url.hostname, port: Number(url.port || 5432) });
    const api = await startTestApi(env, { db: { ...db, sql: createPool(proxy.urlFor(db.url), pool) } });
    const started = proxy;
    return {
      db,
      proxy: started,
      api,
      async close() {
        await api.close();
        await started.close();
        await db.drop();
      },
    };
  } catch (e) {
    await proxy?.close();
    await db.drop();
    throw e;
  }
}
