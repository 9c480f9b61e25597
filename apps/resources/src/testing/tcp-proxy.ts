import net from "node:net";
import { freePort } from "@altalune/test-kit";

/**
 * A TCP proxy a test controls, between the application and PostgreSQL: it forwards, refuses new
 * connections (the port stops listening: ECONNREFUSED), swallows them (accepts and never
 * answers: a network black hole), cuts the connections it carries, or delays every chunk.
 * Only the connections through this proxy are affected, never the shared test server's others.
 */
export type ProxyMode = "forward" | "refuse" | "blackhole";

export class TcpProxy {
  private mode: ProxyMode = "forward";
  private delayMs = 0;
  private listener: net.Server | undefined;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket | undefined }>();

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** Listens on an ephemeral port of 127.0.0.1 and forwards to `target`. */
  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), target);
    await proxy.listen();
    return proxy;
  }

  /** The same URL with host and port replaced by the proxy's. */
  urlFor(databaseUrl: string): string {
    const u = new URL(databaseUrl);
    u.hostname = "127.0.0.1";
    u.port = String(this.port);
    return u.toString();
  }

  get connections(): number {
    return this.pairs.size;
  }

  /** Every chunk in either direction waits this long (0: none). */
  setDelay(ms: number): void {
    this.delayMs = ms;
  }

  async setMode(mode: ProxyMode): Promise<void> {
    this.mode = mode;
    if (mode === "refuse") await this.unlisten();
    else await this.listen();
  }

  /** Destroys every connection carried now (both sides see a reset). */
  cut(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await this.unlisten();
  }

  private async listen(): Promise<void> {
    if (this.listener !== undefined) return;
    const listener = net.createServer((client) => this.accept(client));
    this.listener = listener;
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(this.port, "127.0.0.1", () => resolve());
    });
  }

  private async unlisten(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    // close() stops listening at once; its callback would wait for the carried connections.
    listener?.close();
    await Promise.resolve();
  }

  private accept(client: net.Socket): void {
    const pair: { client: net.Socket; upstream: net.Socket | undefined } = { client, upstream: undefined };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on("error", drop);
    client.on("close", drop);
    if (this.mode === "blackhole") return; // held open, never answered
    const upstream = net.connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.on("error", drop);
    upstream.on("close", drop);
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  private pipe(from: net.Socket, to: net.Socket): void {
    from.on("data", (chunk: Buffer) => {
      // A black hole swallows traffic of connections that were open when it began, too.
      if (this.mode === "blackhole") return;
      if (this.delayMs === 0) to.write(chunk);
      else setTimeout(() => to.destroyed || to.write(chunk), this.delayMs);
    });
  }
}
