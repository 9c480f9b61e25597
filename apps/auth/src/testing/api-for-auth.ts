import { startTestApi, type TestApi } from "@altalune/resources/testing";
import { TEST_API_AUDIENCE, TEST_ENCRYPTION_KEY, type TestAuth } from "./auth-harness.js";

/**
 * A Resources API on the auth server's database that trusts its tokens and answers `origin`'s
 * browser calls. Its seed runs on that database: the default project, the superadmin and the
 * dashboard client (from the harness's TEST_ENV) exist for the auth server too.
 */
export function startApiForAuth(auth: TestAuth, origin: string): Promise<TestApi> {
  return startTestApi(
    { AUTH_ISSUER: auth.issuer, API_AUDIENCE: TEST_API_AUDIENCE, ALLOWED_ORIGINS: origin, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString("base64") },
    { db: auth.db },
  );
}
