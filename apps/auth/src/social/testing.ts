import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";
import { newPublicId, sealSecret } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { freePort } from "../testing/auth-harness.js";

/**
 * Test peers of the social sign-in: a real oidc-provider as the upstream IdP, a small GitHub
 * look-alike (its OAuth endpoints and user API, PKCE checked).
 */

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

export interface UpstreamAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  given_name?: string;
  family_name?: string;
}

export interface UpstreamIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Who the next login at the IdP is, or that the person cancels there. */
  next: { account: UpstreamAccount } | { deny: true };
  close(): Promise<void>;
}

/**
 * A second oidc-provider as the upstream identity provider: its login step signs in
 * `idp.next.account` (or answers access_denied), its consent step grants what is asked.
 */
export async function startUpstreamIdp(opts: { redirectUris: string[] }): Promise<UpstreamIdp> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = "altalune-upstream-client";
  const clientSecret = randomBytes(24).toString("base64url");
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "upstream-test", alg: "RS256", use: "sig" };
  const accounts = new Map<string, UpstreamAccount>();

  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: opts.redirectUris, grant_types: ["authorization_code"], response_types: ["code"] }],
    jwks: { keys: [jwk as never] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["given_name", "family_name"] },
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: () => ({ ...account }) };
    },
  });
  const idp: UpstreamIdp = {
    issuer,
    clientId,
    clientSecret,
    next: { deny: true },
    close: async () => closeServer(server),
  };

  async function interaction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === "login") {
      const next = idp.next;
      if ("deny" in next) {
        await provider.interactionFinished(req, res, { error: "access_denied", error_description: "the user cancelled" }, { mergeWithLastSubmission: false });
        return;
      }
      accounts.set(next.account.sub, next.account);
      await provider.interactionFinished(req, res, { login: { accountId: next.account.sub } }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params["client_id"]) });
    grant.addOIDCScope(String(details.params["scope"]));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  const handle = provider.callback();
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/interaction/")) {
      interaction(req, res).catch((e: unknown) => {
        res.statusCode = 500;
        res.end(String(e));
      });
      return;
    }
    void handle(req, res);
  });
  await listen(server, port);
  return idp;
}

export interface FakeGitHub {
  url: string;
  clientId: string;
  clientSecret: string;
  /** The next account to sign in; `publicEmail` is the (unverified) address on the profile. */
  next: { id: number; login: string; name: string | null; publicEmail?: string; emails: { email: string; primary: boolean; verified: boolean }[] };
  close(): Promise<void>;
}

/** GitHub's OAuth endpoints and user API as far as the sign-in uses them; PKCE and the secret are checked. */
export async function startFakeGitHub(): Promise<FakeGitHub> {
  const clientId = "Iv1.testclient";
  const clientSecret = randomBytes(20).toString("hex");
  const codes = new Map<string, { challenge: string; redirectUri: string; user: FakeGitHub["next"] }>();
  const tokens = new Map<string, FakeGitHub["next"]>();
  const gh: FakeGitHub = {
    url: "",
    clientId,
    clientSecret,
    next: { id: 1, login: "octocat", name: "The Octocat", emails: [] },
    close: async () => closeServer(server),
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", gh.url);
    if (req.method === "GET" && url.pathname === "/login/oauth/authorize") {
      const p = url.searchParams;
      if (p.get("client_id") !== clientId || p.get("code_challenge_method") !== "S256") return json(res, 400, { error: "bad request" });
      const code = randomBytes(10).toString("hex");
      codes.set(code, { challenge: p.get("code_challenge") ?? "", redirectUri: p.get("redirect_uri") ?? "", user: gh.next });
      const back = new URL(p.get("redirect_uri") ?? "");
      back.searchParams.set("code", code);
      back.searchParams.set("state", p.get("state") ?? "");
      res.writeHead(302, { location: back.href });
      res.end();
      return;
    }
    if (req.method === "POST" && url.pathname === "/login/oauth/access_token") {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const form = new URLSearchParams(body);
        const basic = req.headers.authorization?.startsWith("Basic ")
          ? Buffer.from(req.headers.authorization.slice(6), "base64").toString().split(":").map(decodeURIComponent)
          : [form.get("client_id"), form.get("client_secret")];
        const grant = codes.get(form.get("code") ?? "");
        codes.delete(form.get("code") ?? "");
        const verifier = form.get("code_verifier") ?? "";
        const ok =
          basic[0] === clientId &&
          basic[1] === clientSecret &&
          grant !== undefined &&
          grant.redirectUri === form.get("redirect_uri") &&
          createHash("sha256").update(verifier).digest("base64url") === grant.challenge;
        // GitHub answers 200 with an error body; so does this.
        if (!ok || !grant) return json(res, 200, { error: "bad_verification_code" });
        const token = `gho_${randomBytes(16).toString("hex")}`;
        tokens.set(token, grant.user);
        json(res, 200, { access_token: token, token_type: "bearer", scope: "read:user,user:email" });
      });
      return;
    }
    const user = tokens.get(req.headers.authorization?.replace(/^Bearer /, "") ?? "");
    if (!user) return json(res, 401, { message: "Bad credentials" });
    if (url.pathname === "/user") return json(res, 200, { id: user.id, login: user.login, name: user.name, email: user.publicEmail ?? null, avatar_url: `https://avatars.example.test/u/${user.id}` });
    if (url.pathname === "/user/emails") return json(res, 200, user.emails);
    json(res, 404, { message: "Not Found" });
  });
  gh.url = `http://127.0.0.1:${await listen(server)}`;
  return gh;
}

/** Inserts a provider row as OAuthProviderService would (secret sealed with the provider's context). */
export async function insertProvider(
  sql: Sql,
  key: Buffer,
  spec: {
    type: "oidc" | "github" | "google" | "microsoft" | "apple";
    slug: string;
    displayName: string;
    clientId: string;
    clientSecret: string;
    scopes: string[];
    enabled?: boolean;
    issuerUrl?: string;
    endpoints?: { authorization: string; token: string; userinfo: string };
  },
): Promise<string> {
  const publicId = newPublicId();
  await sql`
    insert into altalune_oauth_providers
      (public_id, provider_type, slug, display_name, client_id, client_secret_sealed, scopes, enabled,
       issuer_url, authorization_endpoint, token_endpoint, userinfo_endpoint)
    values (${publicId}, ${spec.type}, ${spec.slug}, ${spec.displayName}, ${spec.clientId},
            ${sealSecret(key, spec.clientSecret, `oauth_provider:${publicId}`)}, ${spec.scopes}, ${spec.enabled ?? true},
            ${spec.issuerUrl ?? null}, ${spec.endpoints?.authorization ?? null}, ${spec.endpoints?.token ?? null},
            ${spec.endpoints?.userinfo ?? null})`;
  return publicId;
}



/**
 * A self-signed certificate for localhost, idp.internal.test and 127.0.0.1 (valid until 2126),
 * only for tests: an https peer on loopback that the guarded fetch trusts when given it as `ca`.
 */
export const TEST_TLS = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgPNp7n71Dj4rGo9Kb
49NSnXlRODUCuVPl+YMJbPljJXahRANCAAQuT7c8qs5or7MFkfk62MjcFhOYlTCQ
7AQ/ZeOI4EbJHM+PIAx49j9neK96bAhn0ZbTppzRbTpnwHycvlfKVs2U
-----END PRIVATE KEY-----
`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBsTCCAVagAwIBAgIUVC0CasEpupIlPFMLy3+DV7yk4n8wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMjA2NTkzMloYDzIxMjYxMTA4
MDY1OTMyWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQuT7c8qs5or7MFkfk62MjcFhOYlTCQ7AQ/ZeOI4EbJHM+PIAx49j9n
eK96bAhn0ZbTppzRbTpnwHycvlfKVs2Uo4GDMIGAMB0GA1UdDgQWBBQ1blFCHVss
BYLGI493jI9dVC6hnzAfBgNVHSMEGDAWgBQ1blFCHVssBYLGI493jI9dVC6hnzAP
BgNVHRMBAf8EBTADAQH/MC0GA1UdEQQmMCSCCWxvY2FsaG9zdIIRaWRwLmludGVy
bmFsLnRlc3SHBH8AAAEwCgYIKoZIzj0EAwIDSQAwRgIhALOnEyoonS1bSFpvKmCa
6926ovvD6g01mtoin1A8i4CyAiEAgyy7yAxId6w+ChOxLxNAxrUvb7MEkW3oj90M
tW+3W+4=
-----END CERTIFICATE-----
`,
};

export interface CountingPeer {
  /** https://localhost:<port> or http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Every TCP connection that reached the listener (a refused fetch must leave this at 0). */
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

/**
 * A loopback listener that counts connections and answers with `handler` (default: a minimal
 * OpenID discovery document for its own origin).
 */
export async function startCountingPeer(
  opts: { tls?: boolean; handler?: (req: IncomingMessage, res: ServerResponse, peer: CountingPeer) => void } = {},
): Promise<CountingPeer> {
  const { createServer: createTlsServer } = await import("node:https");
  const peer: CountingPeer = { url: "", port: 0, connections: 0, requests: [], close: async () => closeServer(server) };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    peer.requests.push(`${req.method} ${req.url}`);
    if (opts.handler) return opts.handler(req, res, peer);
    const issuer = `https://${req.headers.host}`;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` }));
  };
  const server: Server = opts.tls === false ? createServer(handle) : createTlsServer({ key: TEST_TLS.key, cert: TEST_TLS.cert }, handle);
  server.on("connection", () => peer.connections++);
  peer.port = await listen(server);
  peer.url = opts.tls === false ? `http://127.0.0.1:${peer.port}` : `https://localhost:${peer.port}`;
  return peer;
}
