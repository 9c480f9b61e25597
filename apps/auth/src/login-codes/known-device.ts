import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";

/**
 * The "known device" cookie: set when a browser signs in with an emailed code, it names (keyed
 * hashes of) the addresses this browser has signed in to. Guesses from such a browser do not
 * count against, and are not stopped by, the per-address budget of wrong guesses, so an attacker
 * who burns that budget cannot lock the owner's own browsers out.
 *
 * Value: `<tag>~<tag>…<mac>` joined by "." — each tag is HMAC(key, address) cut to 128 bits
 * (the server can test "is this address in here", nobody else can read or forge one), the MAC
 * covers the whole tag list. Only characters RFC 6265 allows in a cookie value.
 */

export const KNOWN_DEVICE_COOKIE = "altalune_known_device";
/** Browsers keep a cookie at most 400 days; a year, renewed at every sign-in. */
export const KNOWN_DEVICE_MAX_AGE_SECONDS = 365 * 86_400;
/** Addresses remembered per browser (newest first); an older one falls out. */
export const KNOWN_DEVICE_MAX_ADDRESSES = 10;
/** Sent only to the login pages, where it is read. */
export const KNOWN_DEVICE_PATH = "/interaction";

const TAG_BYTES = 16;
const MAC_BYTES = 32;
const TAG = /^[A-Za-z0-9_-]{22}$/;

/** The cookie's MAC key: HKDF of ENCRYPTION_KEY under its own label (same scheme as provider/derived-secrets.ts). */
export function deriveKnownDeviceKey(encryptionKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", encryptionKey, Buffer.alloc(0), "altalune-auth:known-device:v1", 32));
}

export class KnownDevices {
  constructor(private readonly key: Buffer) {}

  /** Whether the cookie value is genuine and names this (normalized) address. */
  knows(cookie: string | undefined, address: string): boolean {
    const tag = this.tag(address);
    return this.tags(cookie).includes(tag);
  }

  /** The cookie value after a sign-in to `address`: that address first, the others kept. */
  remember(cookie: string | undefined, address: string): string {
    const tag = this.tag(address);
    const tags = [tag, ...this.tags(cookie).filter((t) => t !== tag)].slice(0, KNOWN_DEVICE_MAX_ADDRESSES);
    const list = tags.join("~");
    return `${list}.${this.mac(list)}`;
  }

  /** The tags of a genuine cookie; none for a missing, malformed or forged one. */
  private tags(cookie: string | undefined): string[] {
    if (!cookie) return [];
    const dot = cookie.lastIndexOf(".");
    if (dot <= 0) return [];
    const list = cookie.slice(0, dot);
    const given = Buffer.from(cookie.slice(dot + 1), "base64url");
    if (given.length !== MAC_BYTES || !timingSafeEqual(given, Buffer.from(this.mac(list), "base64url"))) return [];
    const tags = list.split("~");
    return tags.every((t) => TAG.test(t)) ? tags : [];
  }

  private tag(address: string): string {
    return createHmac("sha256", this.key).update(`address\0${address}`, "utf8").digest().subarray(0, TAG_BYTES).toString("base64url");
  }

  private mac(list: string): string {
    return createHmac("sha256", this.key).update(`cookie\0${list}`, "utf8").digest().toString("base64url");
  }
}
