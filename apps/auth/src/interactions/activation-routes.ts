import { loggedOutPage, verifyEmailResultPage } from "../views/index.js";
import { pageNonce, sendPage } from "../views/send-page.js";
import type { InteractionDeps } from "./deps.js";
import { stateOf } from "./state.js";
import type { StepRouter } from "./step-middleware.js";
import type { StepPages } from "./step-pages.js";

/**
 * A signed-in user who is not active yet: a new verification mail (POST resend-verification),
 * signing out of the interaction (POST abort), and the verification link itself (GET
 * /verify-email, outside any interaction).
 */
export function activationRoutes(router: StepRouter, deps: InteractionDeps, pages: StepPages): void {
  const { brand, verification, logger } = deps;

  router.post("/interaction/:uid/resend-verification", async (ctx) => {
    const { interaction } = ctx.state;
    const { pendingUser } = stateOf(interaction);
    if (!pendingUser) return pages.login(ctx, interaction);
    let notice: string;
    try {
      const { status } = await verification.issue(pendingUser);
      notice = { sent: "verification_sent", already_verified: "already_verified", rate_limited: "verification_rate_limited" }[
        status as "sent"
      ] ?? "verification_failed";
    } catch (e) {
      logger.error({ user: pendingUser, err: e instanceof Error ? e.message : String(e) }, "verification mail failed");
      notice = "verification_failed";
    }
    return pages.pending(ctx, interaction, pendingUser, notice);
  });

  router.post("/interaction/:uid/abort", async (ctx) => {
    await ctx.state.interaction.destroy();
    sendPage(ctx, loggedOutPage({ brand, ...pageNonce(ctx) }));
  });

  // No interaction here (the link is opened from the mail): the step middleware does not run.
  router.get("/verify-email", async (ctx) => {
    const token = typeof ctx.query["token"] === "string" ? ctx.query["token"] : undefined;
    const result = await verification.verify(token);
    sendPage(ctx, verifyEmailResultPage({ brand, ...pageNonce(ctx), ok: result.ok, ...(result.ok ? {} : { reason: result.reason }) }), result.ok ? 200 : 400);
  });
}
