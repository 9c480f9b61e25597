export * from "./auth-rules.js";
export * from "./errors.js";
export * from "./validation.js";
export * from "./pipeline.js";
export * from "./connect-server.js";
export * from "./grpc-server.js";
export * from "./grpc-client.js";
export * from "./principal.js";
