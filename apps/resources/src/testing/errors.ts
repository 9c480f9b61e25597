import { ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema } from "@altalune/proto";

/** The error a call failed with; fails the test when the call succeeds. */
export async function callError(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail");
}

/** The altalune.v1.ErrorDetail of an error, as plain data for toEqual. */
export function detailOf(e: ConnectError): { code: string; meta: Record<string, string> } | undefined {
  const [detail] = e.findDetails(ErrorDetailSchema);
  return detail === undefined ? undefined : { code: detail.code, meta: { ...detail.meta } };
}
