/** The role holding `root`: it can be neither deleted nor renamed, and owns every project. */
export const SUPERADMIN_ROLE = "superadmin";
/** Given to every user created through the API. */
export const DEFAULT_USER_ROLE = "user";

export interface Role {
  id: string;
  publicId: string;
  name: string;
  description: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface CreateRoleInput {
  name: string;
  description: string;
}

export interface UpdateRoleInput extends CreateRoleInput {
  publicId: string;
}
