import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { PermissionSchema, type Permission as PermissionMessage } from "@altalune/proto";
import type { Permission } from "./model.js";

export interface PermissionRow {
  id: string;
  public_id: string;
  name: string;
  description: string;
  created_at: Date;
  updated_at: Date;
}

export const permissionColumns = ["id", "public_id", "name", "description", "created_at", "updated_at"] as const;

export function permissionFromRow(row: PermissionRow): Permission {
  return {
    id: row.id,
    publicId: row.public_id,
    name: row.name,
    description: row.description,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function permissionToProto(p: Permission): PermissionMessage {
  return create(PermissionSchema, {
    id: p.publicId,
    name: p.name,
    description: p.description,
    createdAt: timestampFromDate(p.createdAt),
    updatedAt: timestampFromDate(p.updatedAt),
  });
}
