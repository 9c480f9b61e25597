import type { NamedEntity, NamedEntityInput } from "../../shared/named-entity.js";

/**
 * System keys of the built-in roles (`altalune_roles.system_key`); they are found by key, never by
 * their editable name. The superadmin role holds `root`: it can be neither deleted nor renamed,
 * and owns every project.
 */
export const SUPERADMIN_ROLE = "superadmin";
/** Given to every user created through the API or registered through social login. */
export const DEFAULT_USER_ROLE = "user";

export type Role = NamedEntity;
export type CreateRoleInput = NamedEntityInput;
export type UpdateRoleInput = NamedEntityInput & { publicId: string };
