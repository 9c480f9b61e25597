import type { Middleware } from "koa";
import { context, contextFromNodeHeaders, SpanKind, SpanStatusCode, trace, tracingActive } from "@altalune/core";
import { routeOf } from "./metrics.js";

// The auth server's request spans (docs/observability.md "Tracing"): one SERVER span per request,
// child of the `traceparent` it came with, named by method and route *pattern* (never the raw
// path: it carries interaction uids and provider slugs). Everything the request does — its
// statements, its log lines — runs inside it.

/** A Koa middleware; with tracing off it only calls next(). */
export function httpTracing(): Middleware {
  return (ctx, next) => {
    if (!tracingActive()) return next();
    const parent = contextFromNodeHeaders(ctx.req.headers);
    const span = trace.getTracer("altalune-auth").startSpan(
      ctx.method,
      { kind: SpanKind.SERVER, attributes: { "http.request.method": ctx.method, "url.scheme": ctx.protocol } },
      parent,
    );
    // oidc-provider answers on the raw response (ctx.respond = false): end when it is sent.
    ctx.res.once("close", () => {
      const route = routeOf(ctx["_matchedRoute"], ctx.path);
      const status = ctx.res.statusCode;
      span.updateName(`${ctx.method} ${route}`);
      span.setAttribute("http.route", route);
      span.setAttribute("http.response.status_code", status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: String(status) });
      span.end();
    });
    return context.with(trace.setSpan(parent, span), next);
  };
}
