import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@altalune/core";
import type Provider from "oidc-provider";
import { loadKeySet, type KeySet } from "./signing-keys.js";
import type { Sql } from "@altalune/db";

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * oidc-provider fixes its signing keys when it is constructed. The host keeps the current
 * instance and builds a new one when the key set in the database changes (a rotation, a key
 * becoming active, an old key retired): every instance shares the same storage, cookie keys and
 * configuration, so requests in flight and interactions started on the old one carry on.
 */
export class ProviderHost {
  private provider: Provider;
  private handler: Handler;
  private keys: KeySet;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly build: (keys: KeySet) => Provider,
    initialKeys: KeySet,
    private readonly reload: () => Promise<KeySet>,
    private readonly logger: Logger,
  ) {
    this.keys = initialKeys;
    this.provider = build(initialKeys);
    this.handler = this.provider.callback() as Handler;
  }

  static async start(opts: {
    sql: Sql;
    encryptionKey: Buffer;
    retentionSeconds: number;
    build: (keys: KeySet) => Provider;
    logger: Logger;
    pollMs: number;
  }): Promise<ProviderHost> {
    const reload = () => loadKeySet(opts.sql, opts.encryptionKey, opts.retentionSeconds);
    const host = new ProviderHost(opts.build, await reload(), reload, opts.logger);
    host.timer = setInterval(() => void host.refresh(), opts.pollMs);
    host.timer.unref();
    return host;
  }

  get current(): Provider {
    return this.provider;
  }

  get keySet(): KeySet {
    return this.keys;
  }

  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.handler(req, res);
  }

  /** Re-reads the key set and swaps the provider if it changed. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const keys = await this.reload();
        if (keys.fingerprint === this.keys.fingerprint) return;
        const provider = this.build(keys);
        this.provider = provider;
        this.handler = provider.callback() as Handler;
        this.keys = keys;
        this.logger.info({ signer: keys.signer.kid, published: keys.published.length }, "signing keys changed");
      } catch (e) {
        this.logger.error({ err: e }, "signing keys cannot be reloaded; keeping the current ones");
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
