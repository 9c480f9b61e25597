export { startResourcesServer, type ResourcesServer, type StartOptions } from "./server.js";
export { createContainer, type Container } from "./container.js";
export { seed } from "./seed.js";
