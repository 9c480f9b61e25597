/**
 * Fixed secrets for tests (never used outside them). Both apps' harnesses use the same
 * ENCRYPTION_KEY, so a value one app seals in a shared test database opens in the other.
 */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7);
/** A valid key that is not TEST_ENCRYPTION_KEY: what a server configured with another key holds. */
export const TEST_OTHER_ENCRYPTION_KEY = Buffer.alloc(32, 9);
/** The audience of the Resources API, as the test issuer and the test auth server sign it. */
export const TEST_API_AUDIENCE = "urn:altalune:api";
/** The dashboard client the Resources API seeds (DASHBOARD_CLIENT_ID / DASHBOARD_CLIENT_SECRET). */
export const TEST_DASHBOARD_CLIENT = {
  clientId: "6f1c2f4e-5d7a-4b8e-9c3d-2a1b0c9d8e7f",
  clientSecret: "test-dashboard-secret-0123456789abcdef",
} as const;
