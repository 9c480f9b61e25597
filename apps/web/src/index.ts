export { buildWebApp, ensureWebBuild, DIST_DIR, WEB_ROOT } from "./build.js";
export { startWebServer, webRuntimeConfig, type WebRuntimeConfig, type WebServer, type WebServerOptions } from "./serve.js";
