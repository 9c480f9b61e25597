// Names of the web client's token cookies, shared by the BFF (which sets them) and the Resources
// API (which reads the access token). In production the `__Secure-` prefix makes browsers refuse
// the cookie unless it was set over HTTPS with Secure, so a plain-HTTP sibling cannot plant one.
// (`__Host-` would also forbid the Domain attribute that COOKIE_DOMAIN needs.)

export function accessTokenCookieName(production: boolean): string {
  return production ? "__Secure-access_token" : "access_token";
}

export function refreshTokenCookieName(production: boolean): string {
  return production ? "__Secure-refresh_token" : "refresh_token";
}
