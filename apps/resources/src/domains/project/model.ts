export const ENVIRONMENTS = ["live", "sandbox"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export interface Project {
  /** Internal id: partition names and foreign keys use it; it never leaves the server. */
  id: string;
  publicId: string;
  name: string;
  description: string;
  timezone: string;
  environment: Environment;
  isDefault: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface CreateProjectInput {
  name: string;
  description: string;
  timezone: string;
  environment: Environment;
  isDefault?: boolean;
}

export interface UpdateProjectInput {
  publicId: string;
  name: string;
  description: string;
  timezone: string;
}

/** A project as project-scoped domains need it: the internal id for SQL, the public id for errors. */
export interface ProjectRef {
  id: string;
  publicId: string;
}
