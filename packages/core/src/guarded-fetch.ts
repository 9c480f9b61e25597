import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { Readable } from "node:stream";
import { OutboundRefusedError, type OutboundPolicy } from "./outbound-policy.js";
import { tracedHttpRequest } from "./tracing.js";

/** dns.lookup with `all: true`, as net.connect's `lookup` option calls it (tests pass their own). */
export type Resolver = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, callback) => dnsLookup(hostname, { all: true, verbatim: true }, callback);

/**
 * A `lookup` for net/tls.connect that resolves the name, checks EVERY address against the policy
 * and hands only checked addresses to the socket: the address checked is the address connected
 * to (no check-then-connect window for DNS rebinding). One disallowed address refuses the name.
 */
function guardedLookup(policy: OutboundPolicy, protocol: "http:" | "https:", resolver: Resolver): LookupFunction {
  return (hostname, options, callback) => {
    resolver(hostname, (err, addresses) => {
      if (err) return callback(err, "", 4);
      const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
      const refused = wanted.find((a) => !policy.addressAllowed(hostname, a.address, protocol));
      if (wanted.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 4);
      if (refused) return callback(new OutboundRefusedError(`refusing ${hostname}: it resolves to ${refused.address}, not a public address`), "", 4);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, wanted);
      const [first] = wanted;
      callback(null, first!.address, first!.family);
    });
  };
}

export interface GuardedFetchOptions {
  /** Redirects followed when the caller asks for `redirect: "follow"` (each hop checked). */
  maxRedirects?: number;
  /** Replaces DNS (tests). */
  resolver?: Resolver;
  /** Extra trusted CA certificates (PEM), e.g. a test IdP's self-signed certificate. */
  ca?: string | string[];
}

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * A fetch (the subset upstream calls use: method, headers, string/URLSearchParams/bytes body,
 * signal, redirect) over node:http(s) whose every connection goes through the policy. Redirects
 * are followed by this function, not by the HTTP stack, so each hop is checked again; the
 * Authorization header is dropped when a redirect leaves the origin. Each hop is a CLIENT span
 * carrying the trace on (`traceparent`) when tracing is on.
 */
export function guardedFetch(policy: OutboundPolicy, opts: GuardedFetchOptions = {}): FetchLike {
  const maxRedirects = opts.maxRedirects ?? 5;
  const resolver = opts.resolver ?? systemResolver;
  return async (input, init = {}) => {
    let url = new URL(String(input));
    let method = (init.method ?? "GET").toUpperCase();
    let body = await bodyBytes(init.body);
    const headers = new Headers(init.headers);
    for (let hop = 0; ; hop++) {
      // One CLIENT span per hop (a refused hop too), its traceparent in the hop's headers.
      const response = await tracedHttpRequest(method, url, headers, () => requestOnce(policy, resolver, opts.ca, url, method, headers, body, init.signal ?? undefined), hop);
      const location = response.headers.get("location");
      if (!REDIRECTS.has(response.status) || location === null || init.redirect === "manual") return response;
      await response.body?.cancel();
      if (init.redirect === "error") throw new OutboundRefusedError(`${url.origin} answered with a redirect`);
      if (hop >= maxRedirects) throw new OutboundRefusedError(`more than ${maxRedirects} redirects from ${url.origin}`);
      const next = new URL(location, url);
      if (next.origin !== url.origin) headers.delete("authorization");
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
        method = method === "HEAD" ? "HEAD" : "GET";
        body = undefined;
        headers.delete("content-type");
        headers.delete("content-length");
      }
      url = next;
    }
  };
}

async function bodyBytes(body: RequestInit["body"]): Promise<Buffer | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return Buffer.from(body);
  if (body instanceof URLSearchParams) return Buffer.from(body.toString());
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return Buffer.from(await new Response(body).arrayBuffer());
}

function requestOnce(
  policy: OutboundPolicy,
  resolver: Resolver,
  ca: GuardedFetchOptions["ca"],
  url: URL,
  method: string,
  headers: Headers,
  body: Buffer | undefined,
  signal: AbortSignal | undefined,
): Promise<Response> {
  policy.assertUrl(url);
  const protocol = url.protocol as "http:" | "https:";
  const outgoing: Record<string, string> = {};
  headers.forEach((v, k) => (outgoing[k] = v));
  if (body !== undefined) outgoing["content-length"] = String(body.length);
  if (body !== undefined && !headers.has("content-type")) outgoing["content-type"] = "text/plain;charset=UTF-8";
  const send = protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<Response>((resolve, reject) => {
    const req = send(
      url,
      {
        method,
        headers: outgoing,
        // A fresh connection per request: a pooled socket could outlive the check of its address.
        agent: false,
        lookup: guardedLookup(policy, protocol, resolver),
        ...(signal ? { signal } : {}),
        ...(ca !== undefined && protocol === "https:" ? { ca } : {}),
      },
      (res: IncomingMessage) => {
        const responseHeaders = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        const status = res.statusCode ?? 502;
        const nullBody = NULL_BODY_STATUSES.has(status) || method === "HEAD";
        if (nullBody) res.resume();
        const response = new Response(nullBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
          status: status < 200 || status > 599 ? 502 : status,
          statusText: res.statusMessage ?? "",
          headers: responseHeaders,
        });
        Object.defineProperty(response, "url", { value: url.href });
        resolve(response);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
