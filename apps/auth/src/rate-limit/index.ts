export { RateLimiter, type RateLimitResult } from "./rate-limiter.js";
export { bffTokenLimit, endpointLimits, INTERNAL_CALLER_HEADER, refuseRateLimited, type EndpointLimitsOptions } from "./endpoint-limits.js";
