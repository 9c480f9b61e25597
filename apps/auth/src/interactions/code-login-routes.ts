import type { Context } from "koa";
import type { Interaction } from "oidc-provider";
import { LOGIN_CODE_DIGITS } from "../login-codes/index.js";
import type { InteractionDeps } from "./deps.js";
import { knownDevice } from "./known-device.js";
import { loginAudit } from "./login-audit.js";
import { saveState, stateOf } from "./state.js";
import type { StepRouter } from "./step-middleware.js";
import { backToStep, type StepPages } from "./step-pages.js";

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;
const CODE = new RegExp(`^\\d{${LOGIN_CODE_DIGITS}}$`);

/**
 * The code login: the address (POST login), a new code (POST resend-code), another address
 * (GET restart) and the code itself (POST code), which signs in or leads to pending activation.
 */
export function codeLoginRoutes(router: StepRouter, deps: InteractionDeps, pages: StepPages): void {
  const { loginCodes, logger } = deps;
  const devices = knownDevice(deps);
  const { codeSent, loggedIn } = loginAudit(deps);

  /** Mails a code to the address (when its limits allow), counted and audited. */
  async function requestCode(ctx: Context, interaction: Interaction, email: string) {
    const result = await loginCodes.request(email, ctx.ip, devices.caller(ctx, interaction, email));
    deps.events?.loginCode(result.status);
    codeSent(ctx, result, email);
    return result;
  }

  router.post("/interaction/:uid/login", async (ctx) => {
    const { interaction, form } = ctx.state;
    const email = (form.get("email") ?? "").trim().toLowerCase();
    if (email === "") return pages.login(ctx, interaction, { error: "email_required" }, 400);
    if (!EMAIL.test(email)) return pages.login(ctx, interaction, { error: "invalid_email", email }, 400);
    const result = await requestCode(ctx, interaction, email);
    if (result.status === "rate_limited") return pages.login(ctx, interaction, { error: "rate_limited", email }, 429);
    await saveState(interaction, { email });
    backToStep(ctx, interaction.uid);
  });

  router.post("/interaction/:uid/resend-code", async (ctx) => {
    const { interaction } = ctx.state;
    const { email } = stateOf(interaction);
    if (!email) return pages.login(ctx, interaction);
    const result = await requestCode(ctx, interaction, email);
    if (result.status === "rate_limited") return pages.code(ctx, interaction, email, { error: "rate_limited" }, 429);
    return pages.code(ctx, interaction, email, { notice: "code_sent" });
  });

  // A link (GET) on the code page; it only forgets the address typed in this interaction.
  router.get("/interaction/:uid/restart", async (ctx) => {
    const { interaction } = ctx.state;
    await saveState(interaction, {});
    backToStep(ctx, interaction.uid);
  });

  router.post("/interaction/:uid/code", async (ctx) => {
    const { interaction, form } = ctx.state;
    const { email } = stateOf(interaction);
    if (!email) return pages.login(ctx, interaction);
    const code = (form.get("code") ?? "").replace(/[\s-]+/g, "");
    if (!CODE.test(code)) return pages.code(ctx, interaction, email, { error: code === "" ? "code_required" : "invalid_code" }, 400);
    const result = await loginCodes.verify(email, code, devices.caller(ctx, interaction, email));
    deps.events?.login("email_code", !result.ok ? "failed" : result.active ? "success" : "pending_activation");
    await loggedIn(ctx, result, email);
    if (!result.ok) return pages.code(ctx, interaction, email, { error: result.reason }, result.reason === "guess_limit" ? 429 : 400);
    devices.remember(ctx, email);
    if (!result.active) {
      logger.info({ user: result.userPublicId }, "inactive user signed in; pending activation");
      await saveState(interaction, { email, pendingUser: result.userPublicId });
      return pages.pending(ctx, interaction, result.userPublicId);
    }
    ctx.respond = false;
    await deps.provider().interactionFinished(
      ctx.req,
      ctx.res,
      { login: { accountId: result.userPublicId, amr: ["otp"] } },
      { mergeWithLastSubmission: false },
    );
  });
}
