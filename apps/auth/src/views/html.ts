// Auto-escaping HTML templates. Every interpolation in html`…` is escaped unless it is already
// SafeHtml (a nested html`…` or an explicit `unsafeRaw`), so a page cannot forget to escape.
// Attribute values must be quoted in templates; quotes are escaped, so a value cannot leave them.

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** What may appear inside html`…`: arrays are concatenated; null, undefined and false render nothing. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.value;
  if (value === null || value === undefined || value === false) return "";
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? "");
  return new SafeHtml(out);
}

/** Trusted markup that must not be escaped. Never pass user input. */
export function unsafeRaw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/**
 * A URL fit for href/action: http(s) or a same-site path. Anything else (javascript:, data:,
 * protocol-relative //host) becomes "#", because escaping alone does not stop a javascript: URL.
 */
export function safeUrl(url: string): string {
  if (url.startsWith("/") && !url.startsWith("//") && !url.startsWith("/\\")) return url;
  if (!URL.canParse(url)) return "#";
  const { protocol } = new URL(url);
  return protocol === "https:" || protocol === "http:" ? url : "#";
}
