import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { RoleSchema, type Role as RoleMessage } from "@altalune/proto";
import type { Role } from "./model.js";

export interface RoleRow {
  id: string;
  public_id: string;
  name: string;
  description: string;
  created_at: Date;
  updated_at: Date;
}

export const roleColumns = ["id", "public_id", "name", "description", "created_at", "updated_at"] as const;

export function roleFromRow(row: RoleRow): Role {
  return {
    id: row.id,
    publicId: row.public_id,
    name: row.name,
    description: row.description,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function roleToProto(r: Role): RoleMessage {
  return create(RoleSchema, {
    id: r.publicId,
    name: r.name,
    description: r.description,
    createdAt: timestampFromDate(r.createdAt),
    updatedAt: timestampFromDate(r.updatedAt),
  });
}
