/**
 * How a code page names the address the code went to without spelling it out to whoever looks
 * at the screen: "john@x.com" → "j***n@x.com"; a local part of 1–2 characters → "j***@x.com".
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at <= 0) return "***";
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  const chars = [...local];
  const masked = chars.length <= 2 ? `${chars[0]}***` : `${chars[0]}***${chars[chars.length - 1]}`;
  return `${masked}@${domain}`;
}
