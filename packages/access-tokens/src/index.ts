export {
  AccessTokenVerifier,
  type AccessTokenClaims,
  type AccessTokenVerifierOptions,
  type ClientTokenClaims,
  type UserTokenClaims,
} from "./access-token-verifier.js";
export { AuthCodes, authUnavailable, unauthenticated } from "./errors.js";
