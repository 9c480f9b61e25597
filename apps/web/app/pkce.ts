// Authorization code + PKCE (RFC 7636) for the dashboard client. The verifier and state live in
// sessionStorage between the redirect to the auth server and the callback: this tab only.

const KEY = "altalune.signin";

export interface PendingSignIn {
  state: string;
  verifier: string;
  /** The in-app path to return to after signing in. */
  returnTo: string;
}

function randomText(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return base64Url(raw);
}

function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

export async function authorizationUrl(
  opts: { authUrl: string; clientId: string; redirectUri: string },
  returnTo: string,
): Promise<string> {
  const pending: PendingSignIn = { state: randomText(24), verifier: randomText(48), returnTo };
  sessionStorage.setItem(KEY, JSON.stringify(pending));
  const url = new URL(`${opts.authUrl}/oauth/authorize`);
  url.search = new URLSearchParams({
    client_id: opts.clientId,
    response_type: "code",
    scope: "openid profile email offline_access",
    redirect_uri: opts.redirectUri,
    code_challenge: await challengeOf(pending.verifier),
    code_challenge_method: "S256",
    state: pending.state,
  }).toString();
  return url.href;
}

/** The pending sign-in this callback belongs to (read once: a reload cannot replay it). */
export function takePendingSignIn(state: string | null): PendingSignIn | undefined {
  const raw = sessionStorage.getItem(KEY);
  sessionStorage.removeItem(KEY);
  if (raw === null || state === null) return undefined;
  const pending = JSON.parse(raw) as PendingSignIn;
  return pending.state === state ? pending : undefined;
}
