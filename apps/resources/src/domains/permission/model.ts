import type { NamedEntity, NamedEntityInput } from "../../shared/named-entity.js";

/** Satisfies every permission check; it can be neither deleted nor renamed. */
export const ROOT_PERMISSION = "root";

export type Permission = NamedEntity;
export type CreatePermissionInput = NamedEntityInput;
export type UpdatePermissionInput = NamedEntityInput & { publicId: string };
