export * from "./errors.js";
export * from "./ids.js";
export * from "./logger.js";
export * from "./config.js";
export * from "./crypto.js";
export * from "./dev-secrets.js";
export * from "./cookies.js";
export * from "./outbound.js";
