import type { HandlerContext } from "@connectrpc/connect";
import type { QueryMetaResponse, QueryRequest } from "@altalune/proto";
import type { NamedEntity, NamedEntityInput, NamedEntityRepo } from "./named-entity.js";
import { listQueryFromProto, queryMetaToProto } from "./query-mapper.js";
import { grantorOf } from "../domains/iam/index.js";

export interface NamedEntityServiceOptions<L extends string, K extends string, M> {
  /** The response field carrying the row (`role`, `permission`). */
  key: K;
  /** The entity in its RPCs' names (`createRole`, `queryRoles`) and the word its confirmations start with. */
  label: L;
  toProto: (row: NamedEntity) => M;
  /** The name as stored, from the one requested (checks it too). */
  storedName: (requested: string) => string;
}

interface Confirmation {
  message: string;
}

/** The five RPCs as the proto names them: `query<Label>s`, `create<Label>`, `get<Label>`, `update<Label>`, `delete<Label>`. */
export type NamedEntityService<L extends string, K extends string, M> = Record<
  `query${L}s`,
  (req: { query?: QueryRequest | undefined }) => Promise<{ data: M[]; meta: QueryMetaResponse }>
> &
  Record<`create${L}`, (req: NamedEntityInput) => Promise<Record<K, M> & Confirmation>> &
  Record<`get${L}`, (req: { id: string }) => Promise<Record<K, M>>> &
  Record<`update${L}`, (req: NamedEntityInput & { id: string }, ctx: HandlerContext) => Promise<Record<K, M> & Confirmation>> &
  Record<`delete${L}`, (req: { id: string }, ctx: HandlerContext) => Promise<Confirmation>>;

/**
 * The service of a NamedEntityRepo domain (roles, permissions): the domains differ only in the
 * names of their RPCs, the field their responses carry the row in, the word of their confirmations
 * and how a requested name is stored.
 */
export function namedEntityService<L extends string, K extends string, M>(
  repo: NamedEntityRepo,
  o: NamedEntityServiceOptions<L, K, M>,
): NamedEntityService<L, K, M> {
  const carrying = (row: NamedEntity) => ({ [o.key]: o.toProto(row) }) as Record<K, M>;
  const stored = (req: NamedEntityInput): NamedEntityInput => ({ name: o.storedName(req.name), description: req.description.trim() });
  // Computed names type as a string index; the return type states which name holds which RPC.
  return {
    [`query${o.label}s`]: async (req: { query?: QueryRequest | undefined }) => {
      const result = await repo.query(listQueryFromProto(req.query));
      return { data: result.rows.map((row) => o.toProto(row)), meta: queryMetaToProto(result) };
    },
    [`create${o.label}`]: async (req: NamedEntityInput) => {
      const row = await repo.create(stored(req));
      return { ...carrying(row), message: `${o.label} created successfully` };
    },
    [`get${o.label}`]: async (req: { id: string }) => carrying(await repo.getByPublicId(req.id)),
    [`update${o.label}`]: async (req: NamedEntityInput & { id: string }, ctx: HandlerContext) => {
      const row = await repo.update({ publicId: req.id, ...stored(req) }, grantorOf(ctx));
      return { ...carrying(row), message: `${o.label} updated successfully` };
    },
    [`delete${o.label}`]: async (req: { id: string }, ctx: HandlerContext) => {
      await repo.delete(req.id, grantorOf(ctx));
      return { message: `${o.label} deleted successfully` };
    },
  } as NamedEntityService<L, K, M>;
}
