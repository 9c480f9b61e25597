export { RateLimiter, type RateLimitResult } from "./rate-limiter.js";
