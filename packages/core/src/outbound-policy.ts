import { BlockList, isIP } from "node:net";
import { canonicalAddress, isLoopbackAddress, isPublicAddress } from "./ip-address.js";

/** Refused by the outbound policy (never sent). */
export class OutboundRefusedError extends Error {
  readonly code = "ERR_OUTBOUND_REFUSED";
  constructor(message: string) {
    super(message);
    this.name = "OutboundRefusedError";
  }
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
