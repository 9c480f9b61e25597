// Imported by the web client (package export "./bff-user"), type only: this module must import
// nothing, so the browser's type check never loads the auth server's code.

/** The signed-in person as the BFF answers them to the web client (`user` of /oauth/me, /exchange, /refresh). */
export interface BffUser {
  sub: string;
  email?: string;
  email_verified: boolean;
  name?: string;
  perms: string[];
  /** Project public id → project role. */
  memberships: Record<string, string>;
}
