import type { HandlerContext } from "@connectrpc/connect";
import type { QueryRequest } from "@altalune/proto";
import type { NamedEntity, NamedEntityRepo } from "./named-entity.js";
import { listQueryFromProto, queryMetaToProto } from "./query-mapper.js";
import { grantorOf } from "../domains/iam/index.js";

export interface NamedEntityHandlersOptions<K extends string, M> {
  /** The response field carrying the row (`role`, `permission`). */
  key: K;
  /** The word the confirmations start with (`Role`, `Permission`). */
  label: string;
  toProto: (row: NamedEntity) => M;
  /** The name as stored, from the one requested (checks it too). */
  storedName: (requested: string) => string;
}

/**
 * The five RPCs of a NamedEntityRepo domain (roles, permissions), which differ only in the field
 * their responses carry the row in, the word of their confirmations and how a requested name is
 * stored. Each service method hands its request to the one of the same name here.
 */
export class NamedEntityHandlers<K extends string, M> {
  constructor(
    private readonly repo: NamedEntityRepo,
    private readonly o: NamedEntityHandlersOptions<K, M>,
  ) {}

  async query(query: QueryRequest | undefined) {
    const result = await this.repo.query(listQueryFromProto(query));
    return { data: result.rows.map((row) => this.o.toProto(row)), meta: queryMetaToProto(result) };
  }

  async create(req: { name: string; description: string }) {
    const row = await this.repo.create({ name: this.o.storedName(req.name), description: req.description.trim() });
    return { ...this.carrying(row), message: `${this.o.label} created successfully` };
  }

  async get(publicId: string): Promise<Record<K, M>> {
    return this.carrying(await this.repo.getByPublicId(publicId));
  }

  async update(req: { id: string; name: string; description: string }, ctx: HandlerContext) {
    const row = await this.repo.update(
      { publicId: req.id, name: this.o.storedName(req.name), description: req.description.trim() },
      grantorOf(ctx),
    );
    return { ...this.carrying(row), message: `${this.o.label} updated successfully` };
  }

  async delete(publicId: string, ctx: HandlerContext) {
    await this.repo.delete(publicId, grantorOf(ctx));
    return { message: `${this.o.label} deleted successfully` };
  }

  private carrying(row: NamedEntity): Record<K, M> {
    return { [this.o.key]: this.o.toProto(row) } as Record<K, M>;
  }
}
