import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { RoleSchema, type Role as RoleMessage } from "@altalune/proto";
import type { Role } from "./model.js";

export {
  namedEntityColumns as roleColumns,
  namedEntityFromRow as roleFromRow,
  type NamedEntityRow as RoleRow,
} from "../../shared/named-entity.js";

export function roleToProto(r: Role): RoleMessage {
  return create(RoleSchema, {
    id: r.publicId,
    name: r.name,
    description: r.description,
    createdAt: timestampFromDate(r.createdAt),
    updatedAt: timestampFromDate(r.updatedAt),
  });
}
