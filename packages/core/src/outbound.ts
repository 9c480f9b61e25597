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

export * from "./ip-address.js";
export * from "./outbound-policy.js";
export * from "./guarded-fetch.js";
