import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { PermissionSchema, type Permission as PermissionMessage } from "@altalune/proto";
import type { Permission } from "./model.js";

export {
  namedEntityColumns as permissionColumns,
  namedEntityFromRow as permissionFromRow,
  type NamedEntityRow as PermissionRow,
} from "../../shared/named-entity.js";

export function permissionToProto(p: Permission): PermissionMessage {
  return create(PermissionSchema, {
    id: p.publicId,
    name: p.name,
    description: p.description,
    createdAt: timestampFromDate(p.createdAt),
    updatedAt: timestampFromDate(p.updatedAt),
  });
}
