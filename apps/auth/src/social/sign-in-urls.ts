import type { Context } from "koa";

const MAX_PARAM_LENGTH = 512;

/** A query parameter the provider sent back; undefined when absent, empty or longer than any real one. */
export const queryParam = (ctx: Context, name: string): string | undefined => {
  const v = ctx.query[name];
  return typeof v === "string" && v !== "" && v.length <= MAX_PARAM_LENGTH ? v : undefined;
};

/** The interaction's own page (the sign-in the person came from). */
export const interactionHref = (uid: string): string => `/interaction/${encodeURIComponent(uid)}`;
