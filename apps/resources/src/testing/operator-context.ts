import { createContextValues, type HandlerContext } from "@connectrpc/connect";
import { principalKey } from "@altalune/rpc";

/**
 * The handler context of an operator (a root principal), for code that calls a service directly
 * rather than over a port (benchmarks, unit tests): handlers read the caller's permissions and
 * memberships from it for the escalation checks.
 */
export function operatorContext(userPublicId = "operator"): HandlerContext {
  const values = createContextValues().set(principalKey, {
    kind: "user",
    userPublicId,
    clientId: undefined,
    permissions: new Set(["root"]),
    memberships: new Map(),
    emailVerified: true,
  });
  return { values } as HandlerContext;
}
