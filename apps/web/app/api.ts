import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { ApiKeyService, EmployeeService, ProjectService } from "@altalune/proto";
import type { Session } from "./session.js";

/**
 * An Unauthenticated answer (the access cookie expired or was dropped) triggers one refresh
 * through the BFF, shared by all calls in flight, and one retry of the call. When the refresh is
 * refused the session is over: the original error reaches the caller and the session's onEnded
 * sends the person to sign in.
 */
export function refreshOnUnauthenticated(session: Session): Interceptor {
  return (next) => async (req) => {
    const sentAt = session.generation;
    try {
      return await next(req);
    } catch (e) {
      if (!(e instanceof ConnectError && e.code === Code.Unauthenticated) || req.stream) throw e;
      if (!(await session.renew(sentAt))) throw e;
      return next(req);
    }
  };
}

export interface Api {
  projects: Client<typeof ProjectService>;
  employees: Client<typeof EmployeeService>;
  apiKeys: Client<typeof ApiKeyService>;
}

export function createApi(baseUrl: string, session: Session): Api {
  const transport = createConnectTransport({
    baseUrl,
    // JSON keeps calls readable in the browser's network panel; the cookie is the only credential
    // (no Authorization header: this code never sees a token).
    useBinaryFormat: false,
    fetch: (input, init) => fetch(input, { ...init, credentials: "include" }),
    interceptors: [refreshOnUnauthenticated(session)],
  });
  return {
    projects: createClient(ProjectService, transport),
    employees: createClient(EmployeeService, transport),
    apiKeys: createClient(ApiKeyService, transport),
  };
}
