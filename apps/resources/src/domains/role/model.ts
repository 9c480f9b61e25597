import type { NamedEntity, NamedEntityInput } from "../../shared/named-entity.js";

/** The role holding `root`: it can be neither deleted nor renamed, and owns every project. */
export const SUPERADMIN_ROLE = "superadmin";
/** Given to every user created through the API. */
export const DEFAULT_USER_ROLE = "user";

export type Role = NamedEntity;
export type CreateRoleInput = NamedEntityInput;
export type UpdateRoleInput = NamedEntityInput & { publicId: string };
