import { html, unsafeRaw, type SafeHtml } from "./html.js";

// One small stylesheet inlined in every page: no CDN, no extra request, and it passes the CSP
// through the per-request nonce (style-src 'nonce-…'); no style attributes anywhere, which that
// CSP would block.
const CSS = `
*,*::before,*::after{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;background:#f5f6f8;line-height:1.5}
body{margin:0;min-height:100vh;display:flex;align-items:flex-start;justify-content:center;padding:48px 16px}
main{width:100%;max-width:400px;background:#fff;border:1px solid #d8dee4;border-radius:12px;padding:32px}
.brand{font-weight:600;font-size:15px;color:#59636e;margin:0 0 20px}
h1{font-size:22px;line-height:1.3;margin:0 0 12px}
p{margin:0 0 16px}
.muted{color:#59636e;font-size:14px}
label{display:block;font-weight:600;font-size:14px;margin:0 0 6px}
input[type=email],input[type=text]{display:block;width:100%;font:inherit;padding:10px 12px;border:1px solid #d1d9e0;border-radius:8px;margin:0 0 16px;background:#fff;color:inherit}
input:focus,button:focus-visible,a:focus-visible{outline:2px solid #0969da;outline-offset:2px}
input.code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:24px;letter-spacing:6px;text-align:center}
button,.button{display:block;width:100%;font:inherit;font-weight:600;text-align:center;text-decoration:none;padding:10px 12px;border-radius:8px;border:1px solid #1f6feb;background:#1f6feb;color:#fff;cursor:pointer;margin:0 0 10px}
button.secondary,.button.secondary{background:#fff;color:#1f2328;border-color:#d1d9e0}
button.link{background:none;border:0;color:#0969da;font-weight:400;padding:4px;width:auto;margin:0 auto}
.actions{margin-top:8px}
.alert{border-radius:8px;padding:10px 12px;margin:0 0 16px;font-size:14px}
.alert.error{background:#ffebe9;border:1px solid #ff818266;color:#82071e}
.alert.info{background:#ddf4ff;border:1px solid #54aeff66;color:#0a3069}
.divider{display:flex;align-items:center;gap:12px;color:#59636e;font-size:13px;margin:20px 0}
.divider::before,.divider::after{content:"";flex:1;border-top:1px solid #d8dee4}
ul.providers,ul.scopes{list-style:none;padding:0;margin:0 0 16px}
ul.scopes li{padding:8px 0;border-bottom:1px solid #eef1f4}
ul.scopes li:last-child{border-bottom:0}
.request-id{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#59636e}
`;

// A constant of this module, not input: inserted as is.
const STYLESHEET = unsafeRaw(CSS);

export interface LayoutInput {
  brand: string;
  title: string;
  body: SafeHtml;
  /** The CSP nonce of this response (ctx.state.cspNonce); without it the stylesheet is blocked. */
  nonce?: string;
}

export function layout({ brand, title, body, nonce }: LayoutInput): SafeHtml {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>${title} · ${brand}</title>
<style${nonce === undefined ? "" : html` nonce="${nonce}"`}>${STYLESHEET}</style>
</head>
<body>
<main>
<p class="brand">${brand}</p>
${body}
</main>
</body>
</html>
`;
}
