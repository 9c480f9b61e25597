/**
 * Text fields that may be absent (a NULL column, an unset override), as the fields that have no
 * absent state take them: a proto3 string, or a model field that reads "" as none.
 */
export function emptyWhenAbsent<K extends string>(fields: Record<K, string | null | undefined>): Record<K, string> {
  return Object.fromEntries(Object.entries<string | null | undefined>(fields).map(([key, value]) => [key, value ?? ""])) as Record<K, string>;
}
