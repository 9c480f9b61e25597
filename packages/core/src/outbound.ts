import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { Readable } from "node:stream";
import { tracedHttpRequest } from "./tracing.js";

/**
 * Requests this server makes to URLs that someone configured through the API (upstream identity
 * providers: discovery, token, userinfo, JWKS, GitHub's API). Whoever may write those URLs must
 * not be able to make the server call its own network (cloud metadata at 169.254.169.254, an
 * admin port on loopback, a database on 10.x): in production only https to public addresses,
 * checked on the address actually connected to (after DNS, for every redirect hop, so DNS
 * rebinding and redirects cannot get around it). Private addresses of a self-hosted identity
 * provider are reachable only when an operator lists them in OUTBOUND_ALLOWED_HOSTS. Development
 * additionally reaches loopback (a local IdP, the tests), over plain http too.
 */

/** Refused by the outbound policy (never sent). */
export class OutboundRefusedError extends Error {
  readonly code = "ERR_OUTBOUND_REFUSED";
  constructor(message: string) {
    super(message);
    this.name = "OutboundRefusedError";
  }
}

/** Address ranges that are not the public internet (IANA special-purpose registries). */
const NOT_PUBLIC_V4: ReadonlyArray<[string, number]> = [
  ["0.0.0.0", 8], // "this network", unspecified
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // CGNAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (cloud metadata)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
];
/** IPv6 is public only inside global unicast (2000::/3), minus these. */
const NOT_PUBLIC_V6_IN_GLOBAL: ReadonlyArray<[string, number]> = [
  ["2001::", 23], // IETF protocol assignments (Teredo, ORCHID, …)
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4: embeds an IPv4 address
  ["3fff::", 20], // documentation
];
const LOOPBACK_V4: [string, number] = ["127.0.0.0", 8];

const notPublic = new BlockList();
for (const [net, prefix] of NOT_PUBLIC_V4) notPublic.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of NOT_PUBLIC_V6_IN_GLOBAL) notPublic.addSubnet(net, prefix, "ipv6");
const globalUnicast = new BlockList();
globalUnicast.addSubnet("2000::", 3, "ipv6");
const loopback = new BlockList();
loopback.addSubnet(...LOOPBACK_V4, "ipv4");
loopback.addAddress("::1", "ipv6");

/** 16 bytes of an IPv6 address (with or without an embedded dotted IPv4 tail); undefined if not one. */
function ipv6Bytes(text: string): number[] | undefined {
  if (isIP(text) !== 6) return undefined;
  let s = text.toLowerCase();
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted?.[1]) {
    for (const part of dotted[1].split(".")) tail.push(Number(part));
    s = s.slice(0, -dotted[1].length) + "0:0";
  }
  const [head = "", rest] = s.split("::");
  const groups = (g: string) => (g === "" ? [] : g.split(":").map((h) => parseInt(h, 16)));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const words = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * An address as what it really reaches: an IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible
 * (::a.b.c.d) IPv6 address is its IPv4 address.
 */
export function canonicalAddress(address: string): { address: string; family: "ipv4" | "ipv6" } | undefined {
  const bare = address.replace(/^\[|\]$/g, "");
  if (isIP(bare) === 4) return { address: bare, family: "ipv4" };
  const bytes = ipv6Bytes(bare);
  if (bytes === undefined) return undefined;
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
  const mapped = zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff;
  const compatible = zeros(0, 12) && !zeros(12, 14); // not ::, ::1
  if (mapped || compatible) return { address: bytes.slice(12).join("."), family: "ipv4" };
  return { address: bare.split("%")[0] ?? bare, family: "ipv6" };
}

/** Whether an address is on the public internet (not loopback, private, link-local, CGNAT, multicast, reserved…). */
export function isPublicAddress(address: string): boolean {
  const c = canonicalAddress(address);
  if (c === undefined) return false;
  if (c.family === "ipv6" && !globalUnicast.check(c.address, "ipv6")) return false;
  return !notPublic.check(c.address, c.family);
}

export function isLoopbackAddress(address: string): boolean {
  const c = canonicalAddress(address);
  return c !== undefined && loopback.check(c.address, c.family);
}

const normalizeHost = (host: string): string => host.trim().toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");

/** A host name as DNS and URLs write it (letters, digits, hyphens, dots; underscores for internal names). */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** Why an OUTBOUND_ALLOWED_HOSTS entry is unusable, or undefined. */
export function allowedHostProblem(entry: string): string | undefined {
  const text = normalizeHost(entry);
  const slash = text.indexOf("/");
  if (slash >= 0) {
    const c = canonicalAddress(text.slice(0, slash));
    const prefix = text.slice(slash + 1);
    const max = c?.family === "ipv4" ? 32 : 128;
    if (c === undefined || !/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return `"${entry}" is not a CIDR (address/prefix)`;
    return undefined;
  }
  if (canonicalAddress(text) !== undefined || HOST_NAME.test(text)) return undefined;
  return `"${entry}" is neither a host name, an IP address nor a CIDR`;
}

/**
 * What this server may connect to. Built once from the configuration (Config.production and
 * Config.outboundAllowedHosts); the same policy answers the write-time URL check of the API and
 * the connect-time address check of the auth server.
 */
export class OutboundPolicy {
  private readonly hosts = new Set<string>();
  private readonly networks = new BlockList();

  constructor(
    /** Production: https only, public addresses only (plus the allow-list). */
    readonly production: boolean,
    /** Host names, addresses or CIDRs an operator allows besides the public internet. */
    readonly allowedHosts: readonly string[] = [],
  ) {
    for (const entry of allowedHosts) {
      const problem = allowedHostProblem(entry);
      if (problem !== undefined) throw new Error(`OUTBOUND_ALLOWED_HOSTS: ${problem}`);
      const text = normalizeHost(entry);
      const [net = text, prefix] = text.split("/");
      const c = canonicalAddress(net);
      if (c === undefined) this.hosts.add(text);
      else if (prefix === undefined) this.networks.addAddress(c.address, c.family);
      else this.networks.addSubnet(c.address, Number(prefix), c.family);
    }
  }

  static fromConfig(config: { production: boolean; outboundAllowedHosts: readonly string[] }): OutboundPolicy {
    return new OutboundPolicy(config.production, config.outboundAllowedHosts);
  }

  private hostAllowed(host: string): boolean {
    return this.hosts.has(normalizeHost(host));
  }

  /** Whether connecting to `address` for a URL of host `host` over `protocol` is allowed. */
  addressAllowed(host: string, address: string, protocol: "http:" | "https:"): boolean {
    const c = canonicalAddress(address);
    if (c === undefined) return false;
    // Plain http only reaches loopback, and only outside production.
    if (protocol === "http:") return !this.production && isLoopbackAddress(c.address);
    if (isPublicAddress(c.address)) return true;
    if (!this.production && isLoopbackAddress(c.address)) return true;
    return this.hostAllowed(host) || this.networks.check(c.address, c.family);
  }

  /**
   * Write-time check of a configured URL, without DNS (that is the fetch's job): the scheme, and
   * hosts that are certainly internal (an address literal, `localhost`). Undefined = fine, else a
   * rule id: url.https_required, url.private_address.
   */
  urlProblem(url: URL): "url.https_required" | "url.private_address" | undefined {
    const host = normalizeHost(url.hostname);
    const literal = canonicalAddress(host);
    const localName = host === "localhost" || host.endsWith(".localhost");
    if (url.protocol === "http:") {
      const loopbackHost = localName || (literal !== undefined && isLoopbackAddress(literal.address));
      return !this.production && loopbackHost ? undefined : "url.https_required";
    }
    if (url.protocol !== "https:") return "url.https_required";
    if (literal !== undefined) return this.addressAllowed(host, literal.address, "https:") ? undefined : "url.private_address";
    if (localName && !(this.hostAllowed(host) || !this.production)) return "url.private_address";
    return undefined;
  }

  /** Throws OutboundRefusedError unless a request to this URL may be attempted (scheme, literal address). */
  assertUrl(url: URL): void {
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new OutboundRefusedError(`refusing ${url.protocol} URL ${url.origin}`);
    if (url.protocol === "http:" && this.production) throw new OutboundRefusedError(`refusing plain http to ${url.origin} (https is required)`);
    const host = normalizeHost(url.hostname);
    if (isIP(host) !== 0 && !this.addressAllowed(host, host, url.protocol)) {
      throw new OutboundRefusedError(`refusing ${url.origin}: ${host} is not a public address`);
    }
  }
}

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
