import { currentDbCallScope, type DbCallScope } from "@altalune/db";

/**
 * Rows of altalune_oidc_models the adapter has read during the current request, so that a second
 * read of the same row in that request costs no round trip. An interaction step reads its
 * Interaction and Session, and oidc-provider reads both again to finish it; a token request reads
 * the refresh token or code and then its Grant, which the adapter fetches with the token.
 *
 * The request is the database call scope every HTTP request of the auth server runs in (the
 * availability middleware's call guard); outside one (background work, the CLI) nothing is kept.
 * An entry lives until the request ends or the adapter writes a row of its model (upsert,
 * destroy, consume; revokeByGrantId drops everything). So a repeated read answers what the
 * first read saw — as if the request had made both reads at that moment — and never misses a
 * write the request made itself through the adapter. A row keeps its payload as JSON text, parsed
 * afresh for every answer: what oidc-provider changes in one answer is not in the next.
 */
export class RequestReads<Row extends { payload: string }> {
  private readonly byScope = new WeakMap<DbCallScope, Map<string, Row>>();

  private rows(create: boolean): Map<string, Row> | undefined {
    const scope = currentDbCallScope();
    if (scope === undefined) return undefined;
    let rows = this.byScope.get(scope);
    if (rows === undefined && create) this.byScope.set(scope, (rows = new Map()));
    return rows;
  }

  get(model: string, lookup: string, hash: string): Row | undefined {
    return this.rows(false)?.get(key(model, lookup, hash));
  }

  remember(model: string, lookup: string, hash: string, row: Row): void {
    this.rows(true)?.set(key(model, lookup, hash), row);
  }

  /** The adapter wrote a row of `model` (or, without one, rows of any model). */
  forget(model?: string): void {
    const rows = this.rows(false);
    if (rows === undefined) return;
    if (model === undefined) return rows.clear();
    const prefix = `${model}\u0000`;
    for (const k of [...rows.keys()]) if (k.startsWith(prefix)) rows.delete(k);
  }
}

const key = (model: string, lookup: string, hash: string) => `${model}\u0000${lookup}\u0000${hash}`;
