import type { Context } from "koa";
import type Provider from "oidc-provider";
import type { Interaction } from "oidc-provider";
import { errors } from "oidc-provider";

/**
 * The interaction of this browser (its interaction cookie), which must be the one in the URL;
 * undefined when the browser holds none or another. Shared by the code and the social sign-in.
 */
export async function browserInteraction(provider: Provider, ctx: Context): Promise<Interaction | undefined> {
  try {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid === ctx.params["uid"]) return interaction;
  } catch (e) {
    if (!(e instanceof errors.SessionNotFound)) throw e;
  }
  return undefined;
}
