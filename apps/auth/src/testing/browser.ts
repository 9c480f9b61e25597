/**
 * A browser for tests: fetch with manual redirects and a small cookie jar (name, path, expiry),
 * enough to drive the server-rendered login like a person with JavaScript disabled would.
 */
interface StoredCookie {
  name: string;
  value: string;
  path: string;
  expires: number | undefined;
}

export interface Page {
  status: number;
  url: string;
  headers: Headers;
  body: string;
}

export class Browser {
  private readonly jar = new Map<string, StoredCookie>();

  constructor(
    private readonly origin: string,
    /** Sent with every request (e.g. what a proxy in front would add). */
    private readonly extraHeaders: Record<string, string> = {},
  ) {}

  cookieNames(): string[] {
    return [...this.jar.values()].map((c) => c.name);
  }

  /** The value of a held cookie, by name (any path). */
  cookie(name: string): string | undefined {
    return [...this.jar.values()].find((c) => c.name === name)?.value;
  }

  /** Values of the cookies held (session and interaction ids, signatures). */
  cookieValues(): string[] {
    return [...this.jar.values()].map((c) => c.value);
  }

  private store(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = "", ...attrs] = line.split(";").map((s) => s.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = "/";
      let expires: number | undefined;
      for (const attr of attrs) {
        const [k = "", v = ""] = attr.split("=");
        if (k.toLowerCase() === "path") path = v;
        if (k.toLowerCase() === "expires") expires = Date.parse(v);
        if (k.toLowerCase() === "max-age") expires = Date.now() + Number(v) * 1000;
      }
      const key = `${name};${path}`;
      if (expires !== undefined && expires <= Date.now()) this.jar.delete(key);
      else this.jar.set(key, { name, value, path, expires });
    }
  }

  private cookieHeader(url: URL): string {
    const now = Date.now();
    return [...this.jar.values()]
      .filter((c) => (c.expires === undefined || c.expires > now) && (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`)))
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
  }

  /** One request, no redirect following; cookies of our origin are sent and stored. */
  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Page> {
    const target = new URL(url, this.origin);
    const headers: Record<string, string> = { ...this.extraHeaders, ...init.headers };
    if (target.origin === this.origin) {
      const cookie = this.cookieHeader(target);
      if (cookie) headers["cookie"] = cookie;
    }
    let body: string | undefined;
    if (init.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(init.form).toString();
    } else if (init.json !== undefined) {
      headers["content-type"] ??= "application/json";
      body = JSON.stringify(init.json);
    }
    const res = await fetch(target, { method: init.method ?? (body ? "POST" : "GET"), headers, body, redirect: "manual" });
    if (target.origin === this.origin) this.store(res.headers.getSetCookie());
    return { status: res.status, url: target.toString(), headers: res.headers, body: await res.text() };
  }

  /**
   * Follows redirects within our origin; stops at the first page that is not a redirect or at a
   * redirect leaving the origin (the client's redirect_uri), returned as `leftTo`.
   */
  async navigate(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Page & { leftTo?: URL }> {
    let page = await this.request(url, init);
    for (let i = 0; i < 20; i++) {
      const location = page.headers.get("location");
      if (page.status < 300 || page.status >= 400 || !location) return page;
      const next = new URL(location, page.url);
      if (next.origin !== this.origin) return { ...page, leftTo: next };
      page = await this.request(next.toString());
    }
    throw new Error("too many redirects");
  }

  /** Submits the page's form whose action matches, with its hidden fields plus `fields`. */
  async submit(page: Page, actionPattern: RegExp | string, fields: Record<string, string> = {}): Promise<Page & { leftTo?: URL }> {
    const form = formsOf(page.body).find((f) => (typeof actionPattern === "string" ? f.action === actionPattern : actionPattern.test(f.action)));
    if (!form) throw new Error(`no form with action ${String(actionPattern)} in:\n${page.body}`);
    return this.navigate(new URL(form.action, page.url).toString(), { method: form.method, form: { ...form.fields, ...fields } });
  }
}

export interface ParsedForm {
  action: string;
  method: string;
  /** Hidden and pre-filled inputs (name → value). */
  fields: Record<string, string>;
}

const decode = (s: string): string =>
  s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&#96;/g, "`").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`, "i").exec(tag);
  return m?.[1] === undefined ? undefined : decode(m[1]);
}

/** The forms of one of our pages (well-formed, quoted attributes: our own templates). */
export function formsOf(html: string): ParsedForm[] {
  const forms: ParsedForm[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const tag = m[1] ?? "";
    const inner = m[2] ?? "";
    const fields: Record<string, string> = {};
    for (const input of inner.matchAll(/<input\b[^>]*>/gi)) {
      const name = attr(input[0], "name");
      const value = attr(input[0], "value");
      if (name !== undefined && value !== undefined) fields[name] = value;
    }
    forms.push({ action: attr(` ${tag}`, "action") ?? "", method: (attr(` ${tag}`, "method") ?? "GET").toUpperCase(), fields });
  }
  return forms;
}
