import { Code } from "@connectrpc/connect";
import { expect, it } from "vitest";
import { TRANSPORTS, type TransportName } from "./api-harness.js";
import { callError, detailOf } from "./errors.js";

/** A call the API must refuse, and how: the Connect code and the error detail. */
export interface Refusal<C> {
  name: string;
  call: (client: C) => Promise<unknown>;
  code: Code;
  detail: { code: string; meta: Record<string, string> };
}

/** Refused by validation (60001): `meta` names each offending field and the rule it broke. */
export function invalid<C>(name: string, call: (client: C) => Promise<unknown>, meta: Record<string, string>): Refusal<C> {
  return { name, call, code: Code.InvalidArgument, detail: { code: "60001", meta } };
}

/** Refused as NotFound with the domain's error code (`detailCode`). */
export function notFound<C>(name: string, call: (client: C) => Promise<unknown>, detailCode: string, meta: Record<string, string>): Refusal<C> {
  return { name, call, code: Code.NotFound, detail: { code: detailCode, meta } };
}

/**
 * A test per case: every transport refuses it with the same code, detail and message, and what
 * `state` reads (the rows the call could have written) is the same after as before.
 */
export function itRefusesOnEveryTransport<C>(cases: Array<Refusal<C>>, clientOver: (transport: TransportName) => C, state: () => Promise<unknown>): void {
  it.each(cases)("$name", async ({ call, code, detail }) => {
    const before = await state();
    const errors = await Promise.all(TRANSPORTS.map((t) => callError(call(clientOver(t)))));
    for (const e of errors) {
      expect(e.code).toBe(code);
      expect(detailOf(e)).toEqual(detail);
    }
    // Same message everywhere: the transports share one pipeline.
    expect(new Set(errors.map((e) => e.rawMessage)).size).toBe(1);
    expect(await state()).toEqual(before);
  });
}

/**
 * Refused by validation (60001, `meta`) over Connect and over grpc-js, one after the other, with
 * what `state` reads unchanged.
 */
export async function expectInvalidOnBothProtocols(
  call: (transport: "connect-json" | "grpc-js") => Promise<unknown>,
  meta: object,
  state: () => Promise<unknown>,
): Promise<void> {
  const before = await state();
  for (const transport of ["connect-json", "grpc-js"] as const) {
    const err = await callError(call(transport));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(detailOf(err)).toEqual({ code: "60001", meta });
  }
  expect(await state()).toEqual(before);
}
