import { customAlphabet } from "nanoid";

// No 0/1/i/o: public ids are read aloud and typed by people.
export const PUBLIC_ID_ALPHABET = "23456789abcdefghjklmnpqrstuvwxyz";
export const PUBLIC_ID_LENGTH = 14;

export const newPublicId: () => string = customAlphabet(PUBLIC_ID_ALPHABET, PUBLIC_ID_LENGTH);

const publicIdPattern = new RegExp(`^[${PUBLIC_ID_ALPHABET}]{${PUBLIC_ID_LENGTH}}$`);

export function isPublicId(value: string): boolean {
  return publicIdPattern.test(value);
}
