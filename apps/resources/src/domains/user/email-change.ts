import type { TransactionSql } from "@altalune/db";
import { userAlreadyExists } from "./errors.js";
import type { UserEvents } from "./events.js";
import type { EmailChangeOutcome, User } from "./model.js";

// How UpdateUser changes an address (docs/users.md). Changing `email` at once would hand the
// account to whoever owns the new address (an emailed login code goes there), so a different
// address only becomes the user's pending_email; the auth server mails a confirmation link to
// it and a notice to the current one, and `email` changes when the link is used
// (apps/auth/src/email-verification/email-change.ts). The request is durable: the outbox row is
// written in the transaction that records it, so a process without a mailer loses nothing.

interface LockedUser {
  id: string;
  email: string;
  pending_email: string | null;
}

export interface EmailChangeDecision {
  outcome: EmailChangeOutcome;
  /** The user's pending_email after the update. */
  pendingEmail: string | null;
}

/**
 * Within UpdateUser's transaction, with the user's row locked: the current address cancels a
 * pending change; another one replaces it (a new link, the old one retired), unless an account
 * has that address already (60501, nothing changed). Another user's pending address is not
 * reserved: whoever confirms (or is created with it) first gets it, and a later confirmation
 * fails with "address taken".
 */
export async function decideEmailChange(tx: TransactionSql, user: LockedUser, requested: string): Promise<EmailChangeDecision> {
  if (requested === user.email) {
    if (user.pending_email === null) return { outcome: "unchanged", pendingEmail: null };
    await tx`delete from altalune_email_change_outbox where user_id = ${user.id}`;
    await retireChangeLinks(tx, user.id);
    return { outcome: "cancelled", pendingEmail: null };
  }
  const [taken] = await tx`select 1 from altalune_users where email = ${requested}`;
  if (taken) throw userAlreadyExists(requested);
  // The outbox row before the links: a sender claiming it (for the previous request) commits
  // its link first, and the retirement below then sees that link too. A new request_id, so a
  // sender still mailing the previous request leaves this row alone.
  await tx`
    insert into altalune_email_change_outbox (user_id, old_email, new_email)
    values (${user.id}, ${user.email}, ${requested})
    on conflict (user_id) do update
    set old_email = excluded.old_email, new_email = excluded.new_email, request_id = excluded.request_id,
        attempts = 0, next_attempt_at = CURRENT_TIMESTAMP, created_at = CURRENT_TIMESTAMP`;
  await retireChangeLinks(tx, user.id);
  return { outcome: "requested", pendingEmail: requested };
}

/** Links of earlier requests stop working (the auth server also checks the pending address). */
async function retireChangeLinks(tx: TransactionSql, userId: string): Promise<void> {
  await tx`
    update altalune_email_verification_tokens set used_at = CURRENT_TIMESTAMP
    where user_id = ${userId} and purpose = 'email_change' and used_at is null`;
}

export function updateUserMessage(outcome: EmailChangeOutcome, user: User): string {
  switch (outcome) {
    case "requested":
      return `User updated successfully; a confirmation link is being sent to ${user.pendingEmail ?? ""}, and the email address changes once it is confirmed`;
    case "cancelled":
      return "User updated successfully; the pending email change was cancelled";
    case "unchanged":
      return "User updated successfully";
  }
}

/** Lets the listener mail at once; without one, or when it fails, the outbox keeps the request. */
export async function announceEmailChange(
  events: UserEvents,
  logger: { error(details: object, message: string): void },
  user: User,
): Promise<void> {
  try {
    await events.emailChangeRequested?.(user.publicId);
  } catch (err) {
    logger.error({ err, userId: user.publicId }, "email change recorded, but its listener failed (the auth server's poll sends it)");
  }
}
