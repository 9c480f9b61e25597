import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { TEST_API_AUDIENCE } from "@altalune/test-kit";

interface SigningKey {
  kid: string;
  alg: "RS256" | "ES256";
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface TokenSpec {
  sub: string;
  perms?: string[];
  memberships?: Record<string, string>;
  emailVerified?: boolean;
  /** Seconds until expiry; negative for an already expired token. Default 3600. */
  expiresIn?: number;
  audience?: string;
  issuer?: string;
  typ?: string;
  clientId?: string;
  /** "current" (default), a specific kid, or "unpublished" (a key the JWKS never lists). */
  key?: string;
  /** Leave `kid` out of the header. */
  omitKid?: boolean;
  extraClaims?: Record<string, unknown>;
}

async function newKey(kid: string, alg: SigningKey["alg"]): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicJwk };
}

/**
 * A real OIDC-style issuer for tests of the Resources API: discovery and a JWKS endpoint on an
 * ephemeral port, test signing keys (RS256 and ES256), key rotation and an outage switch. It
 * stands in for the auth server where a test is about the API's token handling.
 */
export class TestIssuer {
  /** Requests seen per path (discovery, JWKS). */
  readonly hits = new Map<string, number>();
  down = false;
  private published: SigningKey[];
  private current: SigningKey;
  private counter = 2;

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    keys: SigningKey[],
    private readonly unpublished: SigningKey,
    readonly audience: string,
  ) {
    this.published = keys;
    this.current = keys[0] as SigningKey;
  }

  static async start(audience = TEST_API_AUDIENCE): Promise<TestIssuer> {
    const keys = [await newKey("rs-1", "RS256"), await newKey("es-1", "ES256")];
    const unpublished = await newKey("rs-unpublished", "RS256");
    let issuer: TestIssuer | undefined;
    const server = http.createServer((req, res) => issuer?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    issuer = new TestIssuer(server, url, keys, unpublished, audience);
    return issuer;
  }

  get jwksUrl(): string {
    return `${this.url}/.well-known/jwks.json`;
  }

  get currentKid(): string {
    return this.current.kid;
  }

  hitsOf(path: string): number {
    return this.hits.get(path) ?? 0;
  }

  /** Publishes a new key and signs with it from now on; older keys stay published. */
  async rotate(alg: SigningKey["alg"] = "RS256"): Promise<string> {
    const key = await newKey(`${alg === "RS256" ? "rs" : "es"}-${this.counter++}`, alg);
    this.published = [key, ...this.published];
    this.current = key;
    return key.kid;
  }

  /** Stops publishing a key (tokens signed by it stop verifying once the API refetches). */
  retire(kid: string): void {
    this.published = this.published.filter((k) => k.kid !== kid);
  }

  async token(spec: TokenSpec): Promise<string> {
    const key =
      spec.key === "unpublished"
        ? this.unpublished
        : spec.key === undefined || spec.key === "current"
          ? this.current
          : [...this.published, this.unpublished].find((k) => k.kid === spec.key);
    if (key === undefined) throw new Error(`no test key ${spec.key}`);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      perms: spec.perms ?? [],
      memberships: spec.memberships ?? {},
      email_verified: spec.emailVerified ?? true,
      scope: "openid profile email",
      client_id: spec.clientId ?? "test-client",
      ...spec.extraClaims,
    })
      .setProtectedHeader({ alg: key.alg, ...(spec.omitKid ? {} : { kid: key.kid }), typ: spec.typ ?? "at+jwt" })
      .setIssuer(spec.issuer ?? this.url)
      .setAudience(spec.audience ?? this.audience)
      .setSubject(spec.sub)
      .setIssuedAt(now - 1)
      .setJti(crypto.randomUUID())
      .setExpirationTime(now + (spec.expiresIn ?? 3600))
      .sign(key.privateKey);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    this.hits.set(path, this.hitsOf(path) + 1);
    if (this.down) {
      res.writeHead(503).end();
      return;
    }
    const send = (body: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (path === "/.well-known/openid-configuration") send({ issuer: this.url, jwks_uri: this.jwksUrl });
    else if (path === "/.well-known/jwks.json") send({ keys: this.published.map((k) => k.publicJwk) });
    else res.writeHead(404).end();
  }
}
