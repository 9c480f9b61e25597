import type postgres from "postgres";

export interface DatabaseHealthOptions {
  /** Probe period while the database answers. Default 500 ms, so readiness flips within a second. */
  intervalMs?: number;
  /** Probe period while it does not: how soon recovery is noticed. Default 100 ms. */
  downIntervalMs?: number;
  /**
   * A probe without an answer within this long counts as a failure — unless the pool's own
   * queries were answered meanwhile (a loaded machine, not a dead database). Default 1000 ms.
   */
  timeoutMs?: number;
}

/**
 * Whether the database answers, for readiness (/readyz, grpc.health) and for the call deadline
 * (calls waiting on an unreachable database are answered Unavailable). Kept current by a
 * `select 1` on its own single connection — queries of the pool may be stuck behind a dead
 * connection — and told at once by the pool when a query fails for unavailability or succeeds.
 */
export class DatabaseHealth {
  private up = true;
  private inflight: Promise<void> | undefined;
  /** When a pool query last succeeded (performance.now()). */
  private lastSuccessAt = 0;
  private probeSql: postgres.Sql | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly listeners = new Set<(up: boolean) => void>();
  private readonly intervalMs: number;
  private readonly downIntervalMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly connect: () => postgres.Sql,
    opts: DatabaseHealthOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 500;
    this.downIntervalMs = opts.downIntervalMs ?? 100;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.schedule(0);
  }

  get available(): boolean {
    return this.up;
  }

  /** Called with the new state on every change; returns the unsubscribe function. */
  onChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  reportFailure(): void {
    if (!this.set(false)) return;
    this.schedule(this.downIntervalMs);
  }

  reportSuccess(): void {
    this.lastSuccessAt = performance.now();
    if (!this.up) this.set(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A probe in flight finishes first (bounded by its timeout): ending its connection under it
    // would reject the driver's own connection work.
    await this.inflight;
    const probe = this.probeSql;
    this.probeSql = undefined;
    await probe?.end({ timeout: 0 });
  }

  /** Returns whether the state changed. */
  private set(up: boolean): boolean {
    if (this.up === up) return false;
    this.up = up;
    for (const listener of [...this.listeners]) listener(up);
    return true;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.inflight = this.probe().finally(() => (this.inflight = undefined));
    }, ms);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    const sql = (this.probeSql ??= this.connect());
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const answer = await Promise.race([
      sql`select 1`.then(
        () => "ok" as const,
        () => "error" as const,
      ),
      new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), this.timeoutMs))),
    ]);
    clearTimeout(timer);
    if (this.stopped) return;
    // A slow probe while the pool's queries are being answered is a busy machine (CI, a load
    // spike), not an outage: flipping to "down" then would refuse every call.
    const ok = answer === "ok" || (answer === "timeout" && this.lastSuccessAt >= started);
    if (answer !== "ok") {
      // A connection stuck on a dead peer answers nothing more: start over with a fresh one.
      this.probeSql = undefined;
      void sql.end({ timeout: 0 }).catch(() => {});
    }
    this.set(ok);
    this.schedule(ok ? this.intervalMs : this.downIntervalMs);
  }
}
