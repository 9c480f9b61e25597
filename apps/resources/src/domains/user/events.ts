import type { User } from "./model.js";

/**
 * What other parts of the system do when users change. The authorization server's issue
 * implements `userCreated` to send the verification email when mail is configured; until then
 * nothing listens. Mail is never faked here.
 */
export interface UserEvents {
  /**
   * After CreateUser has committed the user (with its role and membership). The call waits for
   * it, so a listener may queue work durably before the client hears back; a rejection is logged
   * and does not fail the call, because the user exists either way.
   */
  userCreated(user: User): Promise<void>;
  /**
   * After ActivateUser, DeactivateUser or DeleteUser has committed: whether this user may call
   * has changed (the authorization layer drops what it remembered about them).
   */
  userAccessChanged?(userPublicId: string): void;
  /**
   * After UpdateUser has committed a new pending address and its outbox row: the listener may
   * send the confirmation and notice mails now. Awaited; a rejection is logged. Nothing is lost
   * without a listener or when it fails: the auth server's poll sends what the outbox still
   * holds (docs/users.md).
   */
  emailChangeRequested?(userPublicId: string): Promise<void>;
}

export const noUserEvents: UserEvents = {
  async userCreated() {},
};
