export interface User {
  /** Internal id: foreign keys use it; it never leaves the server. */
  id: string;
  publicId: string;
  /** Always lower case. */
  email: string;
  firstName: string;
  lastName: string;
  isActive: boolean;
  emailVerified: boolean;
  /** When the user first became active; undefined for one who never was (pending activation). */
  activatedAt: Date | undefined;
  createdAt: Date;
  updatedAt: Date;
}

/** A way the user signs in: an upstream provider account, or "system" for operator-made ones. */
export interface UserIdentity {
  publicId: string;
  provider: string;
  providerUserId: string;
  email: string;
  firstName: string;
  lastName: string;
  oauthClientId: string | undefined;
  originOAuthClientName: string | undefined;
  lastLoginAt: Date | undefined;
  createdAt: Date;
  updatedAt: Date;
}

export interface CreateUserInput {
  email: string;
  firstName: string;
  lastName: string;
}

/** What CreateUser could not give the new user because it is missing from the database. */
export type MissingDefault = "user_role" | "default_project";

export interface CreatedUser {
  user: User;
  /** Empty in a seeded database. */
  missing: MissingDefault[];
}

export interface UpdateUserInput extends CreateUserInput {
  publicId: string;
}
