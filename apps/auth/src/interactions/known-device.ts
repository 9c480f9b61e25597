import type { Context } from "koa";
import type { Interaction } from "oidc-provider";
import {
  KNOWN_DEVICE_COOKIE,
  KNOWN_DEVICE_MAX_AGE_SECONDS,
  KNOWN_DEVICE_PATH,
  normalizeEmail,
  type LoginCodeCaller,
} from "../login-codes/index.js";
import type { InteractionDeps } from "./deps.js";

/** The known-device cookie of the code login: browsers that signed in to an address before. */
export function knownDevice(deps: Pick<InteractionDeps, "knownDevices" | "secureCookies">) {
  return {
    /** Who asks for or enters a code: this interaction, and whether this browser signed in to the address before. */
    caller(ctx: Context, interaction: Interaction, email: string): LoginCodeCaller {
      return {
        interaction: interaction.uid,
        knownDevice: deps.knownDevices.knows(ctx.cookies.get(KNOWN_DEVICE_COOKIE), normalizeEmail(email)),
      };
    },

    /** After a correct code: this browser is known for the address from now on (renewed each time). */
    remember(ctx: Context, email: string): void {
      const value = deps.knownDevices.remember(ctx.cookies.get(KNOWN_DEVICE_COOKIE), normalizeEmail(email));
      ctx.cookies.set(KNOWN_DEVICE_COOKIE, value, {
        path: KNOWN_DEVICE_PATH,
        httpOnly: true,
        sameSite: "lax",
        secure: deps.secureCookies,
        signed: false,
        overwrite: true,
        maxAge: KNOWN_DEVICE_MAX_AGE_SECONDS * 1000,
      });
    },
  };
}
