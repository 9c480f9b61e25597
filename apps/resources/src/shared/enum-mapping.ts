/**
 * A domain's string union and a proto enum, mapped both ways from one table. The proto's
 * validation (`defined_only`, UNSPECIFIED refused) keeps other numbers out of requests, so one
 * that still reaches `fromProto` is a bug and thrown as such, never mapped to a default.
 */
export function enumMapping<D extends string, P extends number>(what: string, table: Readonly<Record<D, P>>) {
  const reverse = new Map<P, D>((Object.entries(table) as [D, P][]).map(([domain, proto]) => [proto, domain]));
  return {
    toProto: (value: D): P => table[value],
    fromProto(value: P): D {
      const found = reverse.get(value);
      if (found === undefined) throw new Error(`unvalidated ${what} ${value}`);
      return found;
    },
  };
}
