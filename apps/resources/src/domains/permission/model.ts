/** Satisfies every permission check; it can be neither deleted nor renamed. */
export const ROOT_PERMISSION = "root";

export interface Permission {
  id: string;
  publicId: string;
  name: string;
  description: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface CreatePermissionInput {
  name: string;
  description: string;
}

export interface UpdatePermissionInput extends CreatePermissionInput {
  publicId: string;
}
