import type { LookupAddress } from "node:dns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, guardedFetch, isPublicAddress, loadConfig, OutboundPolicy, OutboundRefusedError, type Resolver } from "@altalune/core";
import type { ProviderConfig } from "@altalune/oauth-tables";
import { startCountingPeer, TEST_TLS, type CountingPeer } from "./testing.js";
import { UpstreamClient, UpstreamError } from "./upstream.js";

// Requests to configured provider URLs (SSRF): the address checked is the address connected to,
// at every hop, against real loopback listeners that count the connections they receive. Names
// that should resolve to private addresses (10.x, 169.254.169.254) use a resolver that says so,
// since this machine's DNS cannot be told to.

const PRODUCTION = new OutboundPolicy(true);
const DEVELOPMENT = new OutboundPolicy(false);

/** A resolver answering fixed addresses for some names, the system's for the rest. */
function resolverOf(names: Record<string, string[]>): Resolver {
  return (hostname, callback) => {
    const answer = names[hostname];
    if (!answer) return callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []);
    callback(
      null,
      answer.map((address): LookupAddress => ({ address, family: address.includes(":") ? 6 : 4 })),
    );
  };
}

let tlsPeer: CountingPeer;
let plainPeer: CountingPeer;
beforeAll(async () => {
  tlsPeer = await startCountingPeer();
  plainPeer = await startCountingPeer({ tls: false });
});
afterAll(async () => {
  await tlsPeer?.close();
  await plainPeer?.close();
});

async function refusal(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => new Error("expected a refusal"),
    (e: unknown) => e,
  );
}

describe("address classification", () => {
  it.each([
    ["8.8.8.8", true],
    ["1.1.1.1", true],
    ["2606:4700:4700::1111", true],
    ["127.0.0.1", false],
    ["127.8.9.10", false],
    ["10.1.2.3", false],
    ["172.16.0.1", false],
    ["172.31.255.255", false],
    ["192.168.1.1", false],
    ["169.254.169.254", false],
    ["100.64.0.1", false],
    ["0.0.0.0", false],
    ["224.0.0.1", false],
    ["255.255.255.255", false],
    ["192.0.2.1", false],
    ["::", false],
    ["::1", false],
    ["fe80::1", false],
    ["fc00::1", false],
    ["fd12:3456::1", false],
    ["ff02::1", false],
    ["2001:db8::1", false],
    ["64:ff9b::a00:1", false],
    ["::ffff:127.0.0.1", false],
    ["::ffff:7f00:1", false],
    ["::ffff:a9fe:a9fe", false],
    ["::ffff:8.8.8.8", true],
    ["::127.0.0.1", false],
  ])("%s public: %s", (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe("guarded fetch in production", () => {
  it("refuses a name that resolves to loopback before any connection reaches the listener", async () => {
    const before = tlsPeer.connections;
    const error = await refusal(guardedFetch(PRODUCTION, { ca: TEST_TLS.cert })(`${tlsPeer.url}/.well-known/openid-configuration`));
    expect(error).toBeInstanceOf(OutboundRefusedError);
    expect((error as Error).message).toContain("127.0.0.1");
    expect(tlsPeer.connections).toBe(before);
  });

  it("refuses loopback, private and link-local addresses, as literals and through DNS", async () => {
    const before = tlsPeer.connections;
    const resolver = resolverOf({
      "intranet.example.test": ["10.0.0.7"],
      "metadata.example.test": ["169.254.169.254"],
      "mapped.example.test": ["::ffff:127.0.0.1"],
      // One bad address among good ones refuses the name (the socket could pick either).
      "mixed.example.test": ["93.184.216.34", "127.0.0.1"],
    });
    const fetch = guardedFetch(PRODUCTION, { resolver, ca: TEST_TLS.cert });
    for (const url of [
      `https://127.0.0.1:${tlsPeer.port}/`,
      `https://[::1]:${tlsPeer.port}/`,
      `https://[::ffff:127.0.0.1]:${tlsPeer.port}/`,
      `https://intranet.example.test:${tlsPeer.port}/`,
      "https://metadata.example.test/latest/meta-data/",
      `https://mapped.example.test:${tlsPeer.port}/`,
      `https://mixed.example.test:${tlsPeer.port}/`,
    ]) {
      expect(await refusal(fetch(url)), url).toBeInstanceOf(OutboundRefusedError);
    }
    expect(tlsPeer.connections).toBe(before);
  });

  it("refuses plain http, even to loopback", async () => {
    const before = plainPeer.connections;
    expect(await refusal(guardedFetch(PRODUCTION)(`${plainPeer.url}/`))).toBeInstanceOf(OutboundRefusedError);
    expect(plainPeer.connections).toBe(before);
  });

  it("reaches a private host listed in OUTBOUND_ALLOWED_HOSTS (by name or CIDR), connecting to the address it checked", async () => {
    for (const allowed of [["localhost"], ["127.0.0.0/8"], ["127.0.0.1"]]) {
      const before = tlsPeer.connections;
      const res = await guardedFetch(new OutboundPolicy(true, allowed), { ca: TEST_TLS.cert })(`${tlsPeer.url}/.well-known/openid-configuration`);
      expect(res.status, allowed.join()).toBe(200);
      expect(tlsPeer.connections).toBe(before + 1);
    }
    // A name the resolver maps to loopback: the socket goes where the checked answer says.
    const resolver = resolverOf({ "idp.internal.test": ["127.0.0.1"] });
    const res = await guardedFetch(new OutboundPolicy(true, ["idp.internal.test"]), { resolver, ca: TEST_TLS.cert })(`https://idp.internal.test:${tlsPeer.port}/x`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ issuer: `https://idp.internal.test:${tlsPeer.port}` });
  });

  it("checks every redirect hop: a redirect to a private address (or to http) is refused and never connected to", async () => {
    const target = await startCountingPeer();
    const redirector = await startCountingPeer({
      handler: (req, res) => {
        const to = new URL(req.url ?? "/", "https://x").searchParams.get("to") ?? "/";
        res.writeHead(302, { location: to });
        res.end();
      },
    });
    try {
      // The redirector is allowed by name; its redirect targets are not.
      const fetch = guardedFetch(new OutboundPolicy(true, ["localhost"]), {
        ca: TEST_TLS.cert,
        resolver: resolverOf({ localhost: ["127.0.0.1"], "metadata.example.test": ["169.254.169.254"] }),
      });
      for (const to of [`https://127.0.0.1:${target.port}/`, `https://metadata.example.test:${target.port}/`, `http://localhost:${target.port}/`]) {
        const error = await refusal(fetch(`${redirector.url}/?to=${encodeURIComponent(to)}`));
        expect(error, to).toBeInstanceOf(OutboundRefusedError);
      }
      expect(target.connections).toBe(0);
      // An allowed hop is followed.
      const ok = await fetch(`${redirector.url}/?to=${encodeURIComponent(`https://localhost:${target.port}/done`)}`);
      expect(ok.status).toBe(200);
      expect(target.requests).toEqual(["GET /done"]);
      // redirect: "error" and "manual" are honoured.
      expect(await refusal(fetch(`${redirector.url}/?to=/x`, { redirect: "error" }))).toBeInstanceOf(OutboundRefusedError);
      expect((await fetch(`${redirector.url}/?to=/x`, { redirect: "manual" })).status).toBe(302);
    } finally {
      await target.close();
      await redirector.close();
    }
  });
});

describe("guarded fetch in development", () => {
  it("reaches loopback over plain http, but not private addresses", async () => {
    const res = await guardedFetch(DEVELOPMENT)(`${plainPeer.url}/`);
    expect(res.status).toBe(200);
    const resolver = resolverOf({ "lan.example.test": ["192.168.1.20"] });
    expect(await refusal(guardedFetch(DEVELOPMENT, { resolver })("http://lan.example.test/"))).toBeInstanceOf(OutboundRefusedError);
    expect(await refusal(guardedFetch(DEVELOPMENT, { resolver })("https://lan.example.test/"))).toBeInstanceOf(OutboundRefusedError);
  });
});

describe("the upstream client", () => {
  const provider = (issuerUrl: string): ProviderConfig => ({
    id: "p1",
    providerType: "oidc",
    slug: "corp",
    displayName: "Corp",
    clientId: "c",
    clientSecret: "s",
    scopes: ["openid"],
    enabled: true,
    callbackPath: "/login/corp/callback",
    protocol: "oidc",
    issuerUrl,
  });

  it("in production, discovery at a provider on loopback, 10.x or 169.254.169.254 is refused without reaching the listener", async () => {
    const resolver = resolverOf({ "sso.example.test": ["10.20.30.40"], "meta.example.test": ["169.254.169.254"], localhost: ["127.0.0.1"] });
    const client = new UpstreamClient({ outbound: PRODUCTION, fetch: { resolver, ca: TEST_TLS.cert }, timeoutSeconds: 2 });
    const [before, beforePlain] = [tlsPeer.connections, plainPeer.connections];
    for (const issuer of [tlsPeer.url, `https://sso.example.test:${tlsPeer.port}`, "https://meta.example.test"]) {
      const error = await refusal(client.begin(provider(issuer), "https://auth.test/login/corp/callback"));
      expect(error, issuer).toBeInstanceOf(UpstreamError);
      expect((error as UpstreamError).kind).toBe("unavailable");
      expect((error as UpstreamError).message, issuer).toContain("refused by the outbound policy");
    }
    // Plain http is not even attempted in production (openid-client is not told to allow it).
    expect(await refusal(client.begin(provider(plainPeer.url), "https://auth.test/login/corp/callback"))).toBeInstanceOf(UpstreamError);
    expect(tlsPeer.connections).toBe(before);
    expect(plainPeer.connections).toBe(beforePlain);
  });

  it("reaches the same provider when the operator allows it (OUTBOUND_ALLOWED_HOSTS)", async () => {
    const config = loadConfig({ NODE_ENV: "development", OUTBOUND_ALLOWED_HOSTS: " localhost , 10.0.0.0/8 " });
    expect(config.outboundAllowedHosts).toEqual(["localhost", "10.0.0.0/8"]);
    const client = new UpstreamClient({ outbound: new OutboundPolicy(true, config.outboundAllowedHosts), fetch: { ca: TEST_TLS.cert } });
    const start = await client.begin(provider(tlsPeer.url), "https://auth.test/login/corp/callback");
    expect(start.url.origin).toBe(tlsPeer.url);
    expect(tlsPeer.requests).toContain("GET /.well-known/openid-configuration");
  });

  it("OUTBOUND_ALLOWED_HOSTS entries are validated at start-up", () => {
    expect(() => loadConfig({ OUTBOUND_ALLOWED_HOSTS: "10.0.0.0/33" })).toThrow(ConfigError);
    expect(() => loadConfig({ OUTBOUND_ALLOWED_HOSTS: "https://idp.example.com" })).toThrow(/OUTBOUND_ALLOWED_HOSTS/);
  });
});
