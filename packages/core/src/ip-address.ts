import { BlockList, isIP } from "node:net";

/** What an IP address reaches: public internet or not, loopback or not (for the outbound policy). */

/** Address ranges that are not the public internet (IANA special-purpose registries). */
const NOT_PUBLIC_V4: ReadonlyArray<[string, number]> = [
  ["0.0.0.0", 8], // "this network", unspecified
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // CGNAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (cloud metadata)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
];
/** IPv6 is public only inside global unicast (2000::/3), minus these. */
const NOT_PUBLIC_V6_IN_GLOBAL: ReadonlyArray<[string, number]> = [
  ["2001::", 23], // IETF protocol assignments (Teredo, ORCHID, …)
  ["2001:db8::", 32], // documentation
  ["2002::", 16], // 6to4: embeds an IPv4 address
  ["3fff::", 20], // documentation
];
const LOOPBACK_V4: [string, number] = ["127.0.0.0", 8];

const notPublic = new BlockList();
for (const [net, prefix] of NOT_PUBLIC_V4) notPublic.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of NOT_PUBLIC_V6_IN_GLOBAL) notPublic.addSubnet(net, prefix, "ipv6");
const globalUnicast = new BlockList();
globalUnicast.addSubnet("2000::", 3, "ipv6");
const loopback = new BlockList();
loopback.addSubnet(...LOOPBACK_V4, "ipv4");
loopback.addAddress("::1", "ipv6");

/** 16 bytes of an IPv6 address (with or without an embedded dotted IPv4 tail); undefined if not one. */
function ipv6Bytes(text: string): number[] | undefined {
  if (isIP(text) !== 6) return undefined;
  let s = text.toLowerCase();
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted?.[1]) {
    for (const part of dotted[1].split(".")) tail.push(Number(part));
    s = s.slice(0, -dotted[1].length) + "0:0";
  }
  const [head = "", rest] = s.split("::");
  const groups = (g: string) => (g === "" ? [] : g.split(":").map((h) => parseInt(h, 16)));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const words = [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * An address as what it really reaches: an IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible
 * (::a.b.c.d) IPv6 address is its IPv4 address.
 */
export function canonicalAddress(address: string): { address: string; family: "ipv4" | "ipv6" } | undefined {
  const bare = address.replace(/^\[|\]$/g, "");
  if (isIP(bare) === 4) return { address: bare, family: "ipv4" };
  const bytes = ipv6Bytes(bare);
  if (bytes === undefined) return undefined;
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
  const mapped = zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff;
  const compatible = zeros(0, 12) && !zeros(12, 14); // not ::, ::1
  if (mapped || compatible) return { address: bytes.slice(12).join("."), family: "ipv4" };
  return { address: bare.split("%")[0] ?? bare, family: "ipv6" };
}

/** Whether an address is on the public internet (not loopback, private, link-local, CGNAT, multicast, reserved…). */
export function isPublicAddress(address: string): boolean {
  const c = canonicalAddress(address);
  if (c === undefined) return false;
  if (c.family === "ipv6" && !globalUnicast.check(c.address, "ipv6")) return false;
  return !notPublic.check(c.address, c.family);
}

export function isLoopbackAddress(address: string): boolean {
  const c = canonicalAddress(address);
  return c !== undefined && loopback.check(c.address, c.family);
}
