export { startResourcesServer, type ResourcesServer } from "./server.js";
export { createContainer, type Container } from "./container.js";
export { operatorContext } from "./testing/operator-context.js";
export { seed } from "./seed.js";
