import type { NamedEntity, NamedEntityInput } from "../../shared/named-entity.js";

/** System key of the permission that satisfies every check; it can be neither deleted nor renamed. */

export type Permission = NamedEntity;
export type CreatePermissionInput = NamedEntityInput;
export type UpdatePermissionInput = NamedEntityInput & { publicId: string };
