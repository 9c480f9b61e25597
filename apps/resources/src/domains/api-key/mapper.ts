import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ApiKeySchema, type ApiKey as ApiKeyMessage } from "@altalune/proto";
import { apiKeyStatus, type ApiKey } from "./model.js";

export interface ApiKeyRow {
  public_id: string;
  name: string;
  expiration: Date;
  active: boolean;
  last_used_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** The columns the repo's statements read back, each a field of ApiKeyRow (beside it, so the two change together). */
export const apiKeyColumns = ["public_id", "name", "expiration", "active", "last_used_at", "created_at", "updated_at"] as const satisfies readonly (keyof ApiKeyRow)[];

export function apiKeyFromRow(row: ApiKeyRow): ApiKey {
  return {
    publicId: row.public_id,
    name: row.name,
    expiration: row.expiration,
    active: row.active,
    lastUsedAt: row.last_used_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The key's metadata only: no response ever carries the key or its hash, except Create's key_value. */
export function apiKeyToProto(key: ApiKey, now: Date): ApiKeyMessage {
  return create(ApiKeySchema, {
    id: key.publicId,
    name: key.name,
    expiration: timestampFromDate(key.expiration),
    active: key.active,
    status: apiKeyStatus(key, now),
    ...(key.lastUsedAt === null ? {} : { lastUsedAt: timestampFromDate(key.lastUsedAt) }),
    createdAt: timestampFromDate(key.createdAt),
    updatedAt: timestampFromDate(key.updatedAt),
  });
}
