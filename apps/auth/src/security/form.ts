import type { Context } from "koa";

export const DEFAULT_FORM_MAX_BYTES = 16 * 1024;

/**
 * Reads an application/x-www-form-urlencoded request body, at most `maxBytes`. Anything else is
 * refused with a Koa HTTP error: 415 for another content type, 413 for a larger body, 400 for
 * NUL characters (which PostgreSQL text cannot hold).
 */
export async function readForm(ctx: Context, maxBytes: number = DEFAULT_FORM_MAX_BYTES): Promise<URLSearchParams> {
  if (contentTypeOf(ctx) !== "application/x-www-form-urlencoded") {
    ctx.throw(415, "expected an application/x-www-form-urlencoded form");
  }
  const form = new URLSearchParams((await readBody(ctx, maxBytes)).toString("utf8"));
  for (const [name, value] of form) {
    if (name.includes("\0") || value.includes("\0")) ctx.throw(400, "form fields must not contain NUL characters");
  }
  return form;
}

/** The request's media type, lower-cased, without parameters. */
export function contentTypeOf(ctx: Context): string {
  return (ctx.get("content-type").split(";")[0] ?? "").trim().toLowerCase();
}

/** The raw request body, at most `maxBytes` (413 beyond, the connection then closes). */
export async function readBody(ctx: Context, maxBytes: number): Promise<Buffer> {
  const declared = Number.parseInt(ctx.get("content-length"), 10);
  if (Number.isFinite(declared) && declared > maxBytes) tooLarge(ctx);

  const body = await new Promise<Buffer | undefined>((resolve, reject) => {
    const req = ctx.req;
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        // Stop reading; the connection is closed after the 413 rather than drained.
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onAborted = () => {
      cleanup();
      reject(new Error("request aborted"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
  if (body === undefined) tooLarge(ctx);
  return body;
}

function tooLarge(ctx: Context): never {
  ctx.set("Connection", "close");
  ctx.throw(413, "request body too large");
}
