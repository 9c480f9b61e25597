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
  /**
   * An address UpdateUser asked for, not yet confirmed through the link mailed to it (lower
   * case); undefined when none is pending. It signs nothing in: `email` does until confirmation.
   */
  pendingEmail: string | undefined;
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

/** What UpdateUser did with the address it was given (email-change.ts). */
export type EmailChangeOutcome =
  /** The address is the user's: nothing pending, before or after. */
  | "unchanged"
  /** The address is the user's, and the change that was pending is dropped. */
  | "cancelled"
  /** Another address: now pending, its confirmation queued for mailing. */
  | "requested";

export interface UpdatedUser {
  user: User;
  emailChange: EmailChangeOutcome;
}
