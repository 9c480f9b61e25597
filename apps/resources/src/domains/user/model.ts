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

export interface UpdateUserInput extends CreateUserInput {
  publicId: string;
}
