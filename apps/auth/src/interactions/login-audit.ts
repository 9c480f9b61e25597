import type { Context } from "koa";
import type { Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import type { SecurityAudit } from "../audit/index.js";
import { normalizeEmail, type LoginCodes } from "../login-codes/index.js";

type VerifyResult = Awaited<ReturnType<LoginCodes["verify"]>>;

/**
 * The code login's security events in the audit log (docs/observability.md "Audit log"). These
 * requests are anonymous, so what they may write is bounded by what the login-code limits
 * already bound: a code sent (rate-limited per address and per IP), a login, and a wrong code
 * only when it used one of the code's attempts. A refused request (no code, a code used up, past
 * its attempts or the address's guess budget, expired, not even code-shaped) is counted in
 * metrics only: repeating it must not grow the table.
 */
export function loginAudit(deps: { sql: Sql; audit?: SecurityAudit; logger: Logger }) {
  const { audit, logger } = deps;
  const method = { method: "email_code" };

  /** The user an address belongs to, for the log only (every page answers known and unknown addresses alike). */
  async function userOf(email: string): Promise<string | undefined> {
    const [row] = await deps.sql<{ public_id: string }[]>`select public_id from altalune_users where email = ${normalizeEmail(email)}`;
    return row?.public_id;
  }

  return {
    /**
     * A code mailed to a user's address (none is mailed to an unknown one, nor when refused). Not
     * awaited: the row is written for known addresses only, and an answer that waited for it
     * would tell known from unknown addresses by its timing, which LoginCodes.request takes care not to.
     */
    codeSent(ctx: Context, result: { status: string }, email: string): void {
      if (result.status !== "sent" || audit === undefined) return;
      void userOf(email).then(
        (user) => (user === undefined ? undefined : audit.record(ctx, { action: "auth.login_code.sent", actorType: "anonymous", targetType: "user", targetId: user, details: method })),
        (e: unknown) => logger.warn({ err: e }, "the audit event of a login code could not be written"),
      );
    },

    async loggedIn(ctx: Context, result: VerifyResult, email: string): Promise<void> {
      if (audit === undefined) return;
      if (result.ok) {
        const user = { actorType: "user", actorId: result.userPublicId, targetType: "user", targetId: result.userPublicId } as const;
        await audit.record(
          ctx,
          result.active
            ? { action: "auth.login.succeeded", ...user, details: method }
            : { action: "auth.login.failed", ...user, result: "pending_activation", details: { ...method, reason: "pending_activation" } },
        );
        return;
      }
      if (result.counted !== true) return;
      const user = await userOf(email);
      await audit.record(ctx, {
        action: "auth.login.failed",
        actorType: "anonymous",
        ...(user === undefined ? {} : { targetType: "user", targetId: user }),
        result: result.reason,
        details: { ...method, reason: result.reason },
      });
    },
  };
}
