// The BFF on the auth server (docs/bff.md): it holds the tokens in httpOnly cookies; this app
// only ever sees the user. Every call sends the cookies (credentials: "include").

import type { BffUser } from "@altalune/auth/bff-user";

/** The signed-in person, as the BFF answers them. */
export type SessionUser = BffUser;

/** An RFC 9457 problem answer; `type` is stable (urn:altalune:bff:…). */
export class BffError extends Error {
  override name = "BffError";
  constructor(
    readonly status: number,
    readonly type: string,
    detail: string,
    /** Seconds, from Retry-After on a 503. */
    readonly retryAfter: number | undefined,
  ) {
    super(detail);
  }

  /** The session is over (no or refused refresh token): sign in again. */
  get sessionEnded(): boolean {
    return this.status === 401;
  }
}

interface SessionAnswer {
  user: SessionUser;
  expires_in: number;
}

export class Bff {
  private refreshing: Promise<SessionAnswer> | undefined;

  constructor(private readonly baseUrl: string) {}

  private async call(method: "GET" | "POST", path: string, body?: Record<string, string>): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/oauth/${path}`, {
        method,
        credentials: "include",
        // The BFF requires JSON on state-changing calls (its CSRF defence, with the Origin check):
        // refresh and logout send an empty object.
        ...(method === "POST" ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}) } : {}),
      });
    } catch {
      throw new BffError(0, "urn:altalune:web:network", "The sign-in service cannot be reached.", undefined);
    }
    if (res.ok) return res;
    let type = "about:blank";
    let detail = `HTTP ${res.status}`;
    try {
      const problem = (await res.json()) as { type?: unknown; detail?: unknown; title?: unknown };
      if (typeof problem.type === "string") type = problem.type;
      if (typeof problem.detail === "string") detail = problem.detail;
      else if (typeof problem.title === "string") detail = problem.title;
    } catch {
      // Not a problem document (a proxy's error page): the status says enough.
    }
    const retryAfter = Number(res.headers.get("retry-after") ?? Number.NaN);
    throw new BffError(res.status, type, detail, Number.isFinite(retryAfter) ? retryAfter : undefined);
  }

  async exchange(code: string, codeVerifier: string, redirectUri: string): Promise<SessionAnswer> {
    const res = await this.call("POST", "exchange", { code, code_verifier: codeVerifier, redirect_uri: redirectUri });
    return (await res.json()) as SessionAnswer;
  }

  async me(): Promise<SessionAnswer> {
    return (await (await this.call("GET", "me")).json()) as SessionAnswer;
  }

  /**
   * New tokens from the refresh cookie. Single-flight: every caller that finds its access token
   * expired while a refresh is under way waits for that one (the BFF also single-flights across
   * tabs, but one request per tab is enough).
   */
  refresh(): Promise<SessionAnswer> {
    this.refreshing ??= this.call("POST", "refresh")
      .then((res) => res.json() as Promise<SessionAnswer>)
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  async logout(): Promise<void> {
    await this.call("POST", "logout");
  }
}
