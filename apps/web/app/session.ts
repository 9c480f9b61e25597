import { shallowRef } from "vue";
import { Bff, BffError, type SessionUser } from "./bff.js";

/**
 * Who is signed in, as far as this tab knows. The truth is the cookies, which this code cannot
 * read (httpOnly): `restore` asks the BFF, and an ended session is noticed by the first refused
 * call.
 */
export class Session {
  readonly user = shallowRef<SessionUser | undefined>(undefined);
  /**
   * Counts completed refreshes. A call records it when sent; if it is refused after a refresh that
   * started later has completed, it is simply retried: the refresh it needs happened already.
   */
  generation = 0;
  /** Called once a refresh was refused: the app sends the person to sign in. */
  onEnded: () => void = () => {};

  constructor(readonly bff: Bff) {}

  /** At start: the current user from the access cookie, else one refresh; undefined = signed out. */
  async restore(): Promise<SessionUser | undefined> {
    try {
      this.user.value = (await this.bff.me()).user;
    } catch (e) {
      if (!(e instanceof BffError && e.status === 401)) throw e;
      try {
        this.user.value = (await this.bff.refresh()).user;
        this.generation += 1;
      } catch (refreshError) {
        if (refreshError instanceof BffError && refreshError.sessionEnded) this.user.value = undefined;
        else throw refreshError;
      }
    }
    return this.user.value;
  }

  /**
   * After an Unauthenticated answer to a call sent at generation `sentAt`: one refresh, shared by
   * every call that needs it (Bff.refresh is single-flight).
   * Resolves true when the call may be retried; false when the session is over.
   * A BFF outage (503) rethrows: the person stays where they are and may try again.
   */
  async renew(sentAt: number): Promise<boolean> {
    // A refresh that finished after the refused call was sent already replaced its cookie.
    if (sentAt !== this.generation) return true;
    try {
      this.user.value = (await this.bff.refresh()).user;
      if (sentAt === this.generation) this.generation += 1;
      return true;
    } catch (e) {
      if (e instanceof BffError && e.sessionEnded) {
        this.user.value = undefined;
        this.onEnded();
        return false;
      }
      throw e;
    }
  }

  async signOut(): Promise<void> {
    try {
      await this.bff.logout();
    } finally {
      this.user.value = undefined;
    }
  }
}
