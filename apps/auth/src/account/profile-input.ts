/** Longest first or last name: the columns are VARCHAR(100) (characters, not UTF-16 units). */
export const NAME_MAX_CHARS = 100;

export const NAME_TOO_LONG = "Name fields must be 100 characters or less";
export const NAME_CONTROL_CHARS = "Names must not contain control characters or line breaks";

// C0/C1 controls and line/paragraph separators would break the layout of every page and mail
// that shows a name; bidirectional overrides and isolates could make one name display as
// another. (NUL never gets here: the form reader refuses it.)
const FORBIDDEN = /[\p{Cc}\p{Zl}\p{Zp}\u202A-\u202E\u2066-\u2069]/u;

export type NamesInput =
  | { ok: true; firstName: string; lastName: string }
  | { ok: false; error: string; firstName: string; lastName: string };

/** The edit-profile form's names: trimmed, at most 100 characters each, no control characters. */
export function parseNames(rawFirst: string | null, rawLast: string | null): NamesInput {
  const firstName = (rawFirst ?? "").trim();
  const lastName = (rawLast ?? "").trim();
  if (FORBIDDEN.test(firstName) || FORBIDDEN.test(lastName)) return { ok: false, error: NAME_CONTROL_CHARS, firstName, lastName };
  if ([...firstName].length > NAME_MAX_CHARS || [...lastName].length > NAME_MAX_CHARS) {
    return { ok: false, error: NAME_TOO_LONG, firstName, lastName };
  }
  return { ok: true, firstName, lastName };
}
