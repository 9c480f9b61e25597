import { sha256Hex } from "@altalune/core";
import type { Sql, SqlFragment } from "@altalune/db";
import { errors, type Adapter, type AdapterFactory, type AdapterPayload } from "oidc-provider";
import { ClientAdapter, forgettingReadsOnWrite, unavailabilityAware } from "./adapter-wrappers.js";
import type { ClientStore } from "./client-store.js";
import { RequestReads } from "./request-reads.js";
import { UnreadableStoredId, type StoredIdSealer } from "./stored-ids.js";

/**
 * oidc-provider storage on altalune_oidc_models (0008). Every id is stored as its SHA-256 and the
 * payload never holds it (oidc-provider puts the id in `jti`, and an interaction's `uid` equals
 * its id), so a dump of the table yields no usable code, token, session or interaction: the raw
 * value exists only with its holder. `find` puts the id back from the value it was asked for.
 *
 * uid and userCode lookups go through hashed columns as well; grant_id is hashed so that one
 * indexed statement revokes everything issued under a grant. The other models' ids oidc-provider
 * keeps inside a payload (a session's uid and grant ids, a token's grant id and session uid, an
 * interaction's resume URL...) are sealed (stored-ids.ts); a row whose sealed values do not open
 * reads as absent. Clients are read-only (ClientStore).
 */

/** A refresh token rotated less than this long ago may be used once more (concurrent tabs). */
export const REFRESH_REUSE_LEEWAY_SECONDS = 3;

type Payload = AdapterPayload & Record<string, unknown>;

interface Row {
  id: string;
  /** The redeemed token's user (TokenAccountRead), as JSON text; absent on other reads. */
  account?: string | null;
  account_id?: string | null;
  /** As JSON text, parsed for each answer (so a row read once can answer again: RequestReads). */
  payload: string;
  consumed_at: Date | null;
  in_leeway: boolean;
}

const TABLE = "altalune_oidc_models";

// The server and the tests take the purge from here, with the adapter.
export { PURGE_LOCK_KEY, purgeExpired } from "./oidc-models-store.js";

function accountIdOf(payload: Payload): string | null {
  if (typeof payload.accountId === "string") return payload.accountId;
  const session = payload["session"] as { accountId?: unknown } | undefined;
  return typeof session?.accountId === "string" ? session.accountId : null;
}

function clientIdOf(payload: Payload): string | null {
  if (typeof payload.clientId === "string") return payload.clientId;
  const params = payload["params"] as { client_id?: unknown } | undefined;
  return typeof params?.client_id === "string" ? params.client_id : null;
}

/** Models whose use is consuming them: a lost race for the consumption refuses the request. */
const SINGLE_USE_MODELS = new Set(["AuthorizationCode", "RefreshToken", "DeviceCode", "BackchannelAuthenticationRequest"]);

/** Read more than once in one request (an interaction step, then oidc-provider finishing it). */
const REREAD_MODELS = new Set(["Interaction", "Session"]);
/** Tokens oidc-provider reads their Grant right after: the Grant comes in the same statement. */
const WITH_GRANT_MODELS = new Set(["AuthorizationCode", "RefreshToken"]);

type Lookup = "id" | "uid" | "user_code";

/** Shared by the models' adapters: a token's adapter leaves its Grant for the Grant's. */
const requestReads = new RequestReads<Row>();

/**
 * A code or refresh token being redeemed names its user, whom findAccount reads right after (and
 * extraTokenClaims uses that read): the token's read brings the user and their authorization
 * along, as `account` (configuration.ts passes the expression, accounts.ts's
 * userWithAuthorizationJson), kept for this request under the user's public id.
 */
export type TokenAccountRead = (sql: Sql, publicId: SqlFragment) => SqlFragment;
const accountReads = new RequestReads<{ payload: string }>();

/** What the read of the token being redeemed in this request brought of user `publicId` (JSON text). */
export function accountReadWithToken(publicId: string): string | undefined {
  return accountReads.get("Account", "public_id", publicId)?.payload;
}

class PgAdapter implements Adapter {
  constructor(
    private readonly sql: Sql,
    private readonly model: string,
    private readonly sealer: StoredIdSealer,
    private readonly tokenAccount?: TokenAccountRead,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const stored: Payload = { ...(payload as Payload) };
    delete stored.jti;
    // An Interaction's uid is its id (it travels in the URL and the interaction cookie).
    const uidIsId = stored.uid === id;
    if (uidIsId) delete stored.uid;
    // An Interaction of a signed-in browser carries its login session's id (`session.cookie`),
    // which oidc-provider never reads back: it is not stored.
    const session = stored["session"];
    if (this.model === "Interaction" && typeof session === "object" && session !== null && "cookie" in session) {
      const { cookie: _cookie, ...rest } = session as Record<string, unknown>;
      stored["session"] = rest;
    }
    const grantId = this.model === "Grant" ? id : typeof payload.grantId === "string" ? payload.grantId : null;
    const uid = typeof payload.uid === "string" ? payload.uid : null;
    const userCode = typeof payload.userCode === "string" ? payload.userCode : null;
    const rowId = sha256Hex(id);
    const row = {
      model: this.model,
      id: rowId,
      payload: this.sql.json(this.sealer.seal(this.model, rowId, { ...stored, ...(uidIsId ? { uidIsId: true } : {}) }) as never),
      grant_id: grantId === null ? null : sha256Hex(grantId),
      uid: uid === null ? null : sha256Hex(uid),
      user_code: userCode === null ? null : sha256Hex(userCode),
      client_id: clientIdOf(stored),
      account_id: accountIdOf(stored),
    };
    const expiresAt = expiresIn ? this.sql`CURRENT_TIMESTAMP + make_interval(secs => ${expiresIn})` : null;
    const onConflict = this.sql`
      on conflict (model, id) do update set
        payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid, user_code = excluded.user_code,
        client_id = excluded.client_id, account_id = excluded.account_id, expires_at = excluded.expires_at`;
    await this.sql`
      insert into altalune_oidc_models (model, id, payload, grant_id, uid, user_code, client_id, account_id, expires_at)
      values (${row.model}, ${row.id}, ${row.payload}, ${row.grant_id}, ${row.uid}, ${row.user_code}, ${row.client_id},
              ${row.account_id}, ${expiresAt})
      ${onConflict}`;
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.findBy("id", sha256Hex(id), { jti: id });
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    // A Session found by uid is only read (existence, account, grants), never saved back, so
    // its own id is not needed.
    return this.findBy("uid", sha256Hex(uid), { uid });
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findBy("user_code", sha256Hex(userCode), { userCode });
  }

  private async findBy(lookup: Lookup, hash: string, known: Record<string, string>): Promise<AdapterPayload | undefined> {
    const row = requestReads.get(this.model, lookup, hash) ?? (await this.read(lookup, hash));
    return row === undefined ? undefined : this.restore(row, known);
  }

  private async read(lookup: Lookup, hash: string): Promise<Row | undefined> {
    const live = this.sql`(expires_at is null or expires_at > CURRENT_TIMESTAMP)`;
    const inLeeway = this.sql`(reused_at is null and consumed_at > CURRENT_TIMESTAMP - make_interval(secs => ${REFRESH_REUSE_LEEWAY_SECONDS}))`;
    if (lookup === "id" && WITH_GRANT_MODELS.has(this.model)) {
      // The token and its Grant (whose id is the token's grant_id) in one statement; the Grant is
      // left for the Grant.find that follows in this request.
      // And the token's user (TokenAccountRead), for the findAccount that follows.
      const account = this.tokenAccount === undefined ? this.sql`null` : this.tokenAccount(this.sql, this.sql`t.account_id`);
      const rows = await this.sql<(Row & { model: string })[]>`
        select t.model, t.id, t.payload::text as payload, t.consumed_at, ${inLeeway} as in_leeway, t.account_id,
               case when t.model = ${this.model} then ${account}::text end as account
        from ${this.sql(TABLE)} t
        where (t.model = ${this.model} and t.id = ${hash}
               or t.model = 'Grant' and t.id = (select grant_id from ${this.sql(TABLE)} where model = ${this.model} and id = ${hash}))
          and ${live}`;
      const grant = rows.find((r) => r.model === "Grant");
      if (grant !== undefined) requestReads.remember("Grant", "id", grant.id, grant);
      const token = rows.find((r) => r.model === this.model);
      if (typeof token?.account === "string" && typeof token.account_id === "string") {
        accountReads.remember("Account", "public_id", token.account_id, { payload: token.account });
      }
      return token;
    }
    const [row] = await this.sql<Row[]>`
      select id, payload::text as payload, consumed_at, ${inLeeway} as in_leeway
      from ${this.sql(TABLE)}
      where model = ${this.model} and ${this.sql(lookup)} = ${hash} and ${live}`;
    if (row !== undefined && REREAD_MODELS.has(this.model)) requestReads.remember(this.model, lookup, hash, row);
    return row;
  }

  private restore(row: Row, known: Record<string, string>): AdapterPayload | undefined {
    let opened: Payload;
    try {
      opened = this.sealer.open(this.model, row.id, JSON.parse(row.payload) as Payload) as Payload;
    } catch (e) {
      // Written before ids were sealed (an old replica during a deploy), or altered: fail safe.
      if (e instanceof UnreadableStoredId) return undefined;
      throw e;
    }
    const { uidIsId, ...payload } = opened;
    const restored: Payload = { ...payload, ...known };
    if (known["jti"] !== undefined && uidIsId === true) restored.uid = known["jti"];
    // Within the leeway a rotated refresh token still counts as unused, once (see consume).
    const consumed = row.consumed_at !== null && !(this.model === "RefreshToken" && row.in_leeway);
    if (consumed) restored.consumed = Math.floor(row.consumed_at!.getTime() / 1000);
    return restored;
  }

  /**
   * The second consumption (a use within the leeway) marks the extra use as spent; a third
   * presentation is then treated as reuse, which revokes the grant. oidc-provider reads (find)
   * and consumes in two steps, so concurrent presentations could all pass the read: the update
   * itself decides, and a presentation that finds nothing left to consume loses.
   */
  async consume(id: string): Promise<void> {
    const rows = await this.sql`
      update altalune_oidc_models
      set consumed_at = coalesce(consumed_at, CURRENT_TIMESTAMP),
          reused_at = case when consumed_at is null then null else CURRENT_TIMESTAMP end
      where model = ${this.model} and id = ${sha256Hex(id)}
        and (consumed_at is null
             or (model = 'RefreshToken' and reused_at is null
                 and consumed_at > CURRENT_TIMESTAMP - make_interval(secs => ${REFRESH_REUSE_LEEWAY_SECONDS})))
      returning grant_id`;
    if (rows.length > 0 || !SINGLE_USE_MODELS.has(this.model)) return;
    if (this.model === "AuthorizationCode") {
      // A code redeemed twice at once is a replayed code: whatever was issued from it goes.
      await this.sql`
        delete from altalune_oidc_models
        where grant_id = (select grant_id from altalune_oidc_models where model = ${this.model} and id = ${sha256Hex(id)})`;
    }
    throw new errors.InvalidGrant("grant request is invalid");
  }

  async destroy(id: string): Promise<void> {
    await this.sql`delete from altalune_oidc_models where model = ${this.model} and id = ${sha256Hex(id)}`;
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    // Every model at once (tokens, codes, the grant itself): oidc-provider calls this per model,
    // the later calls find nothing left.
    await this.sql`delete from altalune_oidc_models where grant_id = ${sha256Hex(grantId)}`;
  }
}

/** One adapter per model: Clients from ClientStore, the others on altalune_oidc_models. */
export function createAdapterFactory(sql: Sql, clients: ClientStore, sealer: StoredIdSealer, tokenAccount?: TokenAccountRead): AdapterFactory {
  const adapters = new Map<string, Adapter>();
  return (name: string) => {
    let adapter = adapters.get(name);
    if (!adapter) {
      const pg = name === "Client" ? undefined : new PgAdapter(sql, name, sealer, tokenAccount);
      adapter = unavailabilityAware(pg === undefined ? new ClientAdapter(clients) : forgettingReadsOnWrite(pg, name, requestReads));
      adapters.set(name, adapter);
    }
    return adapter;
  };
}
