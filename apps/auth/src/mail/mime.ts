// Just enough MIME decoding to read what nodemailer sends (tests read login codes and links out
// of received mail): header unfolding, RFC 2047 encoded words, multipart bodies, quoted-printable
// and base64 transfer encodings. Not a general mail parser: charsets other than UTF-8/ASCII and
// Latin-1 are read as UTF-8.

export interface MimeEntity {
  headers: Map<string, string>;
  body: string;
}

export function splitEntity(raw: string): MimeEntity {
  const normalized = raw.replace(/\r\n/g, "\n");
  const end = normalized.indexOf("\n\n");
  const head = end === -1 ? normalized : normalized.slice(0, end);
  const body = end === -1 ? "" : normalized.slice(end + 2);
  const headers = new Map<string, string>();
  let current: [string, string] | undefined;
  const flush = () => {
    // The first occurrence wins (Received-style repeats do not matter here).
    if (current && !headers.has(current[0])) headers.set(current[0], current[1]);
  };
  for (const line of head.split("\n")) {
    if (/^[ \t]/.test(line) && current) {
      current[1] += " " + line.trim();
      continue;
    }
    flush();
    const colon = line.indexOf(":");
    current = colon > 0 ? [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] : undefined;
  }
  flush();
  return { headers, body };
}

export interface ContentType {
  type: string;
  params: Map<string, string>;
}

export function parseContentType(value: string | undefined): ContentType {
  const [type = "", ...rest] = (value ?? "text/plain").split(";");
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf("=");
    if (eq === -1) continue;
    const v = p.slice(eq + 1).trim();
    params.set(p.slice(0, eq).trim().toLowerCase(), v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v);
  }
  return { type: type.trim().toLowerCase(), params };
}

function charsetDecode(bytes: Buffer, charset: string | undefined): string {
  const cs = (charset ?? "utf-8").toLowerCase();
  return cs === "iso-8859-1" || cs === "latin1" ? bytes.toString("latin1") : bytes.toString("utf8");
}

function qpBytes(text: string, underscoreIsSpace: boolean): Buffer {
  const bytes: number[] = [];
  const src = text.replace(/=\n/g, "");
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    const hex = src.slice(i + 1, i + 3);
    if (c === "=" && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (c === "_" && underscoreIsSpace) {
      bytes.push(0x20);
    } else {
      bytes.push(...Buffer.from(c, "utf8"));
    }
  }
  return Buffer.from(bytes);
}

export function decodeTransfer(body: string, encoding: string | undefined, charset: string | undefined): string {
  switch ((encoding ?? "7bit").trim().toLowerCase()) {
    case "quoted-printable":
      return charsetDecode(qpBytes(body, false), charset);
    case "base64":
      return charsetDecode(Buffer.from(body.replace(/\s+/g, ""), "base64"), charset);
    default:
      return body;
  }
}

/** Decodes RFC 2047 encoded words; adjacent ones are joined byte-wise (a character may span two). */
export function decodeHeaderValue(value: string): string {
  const word = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g;
  let out = "";
  let last = 0;
  let pending: { charset: string; bytes: Buffer[] } | undefined;
  const flush = () => {
    if (pending) out += charsetDecode(Buffer.concat(pending.bytes), pending.charset);
    pending = undefined;
  };
  for (let m = word.exec(value); m !== null; m = word.exec(value)) {
    const between = value.slice(last, m.index);
    // Whitespace between two encoded words is not part of the text.
    if (!(pending && /^\s*$/.test(between))) {
      flush();
      out += between;
    }
    const [, charset = "utf-8", enc = "B", text = ""] = m;
    const bytes = enc.toUpperCase() === "B" ? Buffer.from(text, "base64") : qpBytes(text, true);
    if (pending && pending.charset.toLowerCase() === charset.toLowerCase()) pending.bytes.push(bytes);
    else {
      flush();
      pending = { charset, bytes: [bytes] };
    }
    last = m.index + m[0].length;
  }
  flush();
  return out + value.slice(last);
}

/** The decoded text/plain body of a message (the first one, searching multiparts depth-first). */
export function plainTextOf(raw: string): string | undefined {
  const entity = splitEntity(raw);
  const ct = parseContentType(entity.headers.get("content-type"));
  if (ct.type.startsWith("multipart/")) {
    const boundary = ct.params.get("boundary");
    if (!boundary) return undefined;
    const parts = entity.body.split(`--${boundary}`);
    // parts[0] is the preamble; the part after the closing "--boundary--" starts with "--".
    for (const part of parts.slice(1)) {
      if (part.startsWith("--")) break;
      const text = plainTextOf(part.replace(/^[ \t]*\n/, "").replace(/\n$/, ""));
      if (text !== undefined) return text;
    }
    return undefined;
  }
  if (ct.type !== "text/plain") return undefined;
  return decodeTransfer(entity.body, entity.headers.get("content-transfer-encoding"), ct.params.get("charset"));
}
