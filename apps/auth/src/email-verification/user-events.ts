import type { Logger } from "@altalune/core";
import type { EmailVerification } from "./email-verification.js";

/**
 * Structurally the Resources API's UserEvents (apps/resources/src/domains/user/events.ts),
 * declared here so the auth server does not depend on the Resources app.
 */
export interface UserCreatedListener {
  userCreated(user: { publicId: string; emailVerified: boolean }): Promise<void>;
  emailChangeRequested?(userPublicId: string): Promise<void>;
}

/**
 * Sends the verification mail to users an administrator creates (CreateUser), and the mails of
 * an email change UpdateUser recorded. A failure is logged and swallowed: the user exists either
 * way and can ask for a new link; an unsent email change stays in the outbox, and the auth
 * server's poll sends it.
 */
export function verificationUserEvents(verification: EmailVerification, logger: Logger): UserCreatedListener {
  return {
    async userCreated(user) {
      if (user.emailVerified) return;
      try {
        const { status } = await verification.issue(user.publicId);
        if (status !== "sent") logger.info({ user: user.publicId, status }, "no verification mail for the new user");
      } catch (e) {
        logger.error({ user: user.publicId, err: e instanceof Error ? e.message : String(e) }, "verification mail for a new user failed");
      }
    },
    async emailChangeRequested(userPublicId) {
      try {
        await verification.emailChanges.sendFor(userPublicId);
      } catch (e) {
        logger.error({ user: userPublicId, err: e instanceof Error ? e.message : String(e) }, "email change mail failed; the auth server's poll retries it");
      }
    },
  };
}
