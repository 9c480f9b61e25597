import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

// Prometheus metrics (docs/observability.md). Each app owns one Registry, so when `altalune dev`
// runs both apps in one process each metrics port shows only its own app's series (plus the
// default process metrics, registered on each). Nothing here is global: prom-client's default
// `register` is never used.

export { Counter, Gauge, Histogram, Registry };

/** Where an app serves /metrics: a port (0 = a free one) or "off". */
export type MetricsPort = number | "off";

/**
 * Buckets for request and call durations (seconds): from a warm cache hit (~1 ms) to the call
 * deadline region; finer at the low end, where the API's calls are.
 */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A registry with the default process metrics (CPU, memory, event loop lag, GC, handles). */
export function createMetricsRegistry(app: string): Registry {
  const registry = new Registry();
  // A label every series of this registry carries: which app answered, when one Prometheus job
  // scrapes both ports of `altalune dev`.
  registry.setDefaultLabels({ app });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text exposition) on its own port, never on a public one.
 * Anything else is 404 (405 for another method on /metrics). Returns undefined when `port` is
 * "off". A port that cannot be bound fails the start, like the app's own ports.
 */
export async function startMetricsServer(registry: Registry, port: MetricsPort, host: string): Promise<MetricsServer | undefined> {
  if (port === "off") return undefined;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("method not allowed\n");
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : text);
      },
      (e: unknown) => {
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`metrics collection failed: ${e instanceof Error ? e.message : String(e)}\n`);
      },
    );
  });
  // A scraper that keeps its connection open must not hold the app's shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `2xx`, `4xx`, …: the status label of HTTP request metrics (bounded, unlike raw codes from proxies). */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : "other";
}

/** `value` when it is one of `allowed`, else "other": keeps a label bounded whatever the input. */
export function bounded<T extends string>(value: string | undefined, allowed: ReadonlySet<T>): T | "other" {
  return value !== undefined && allowed.has(value as T) ? (value as T) : "other";
}
