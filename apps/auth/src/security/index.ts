export { CSRF_MAX_AGE_SECONDS, issueCsrfToken, verifyCsrfToken } from "./csrf.js";
export { contentSecurityPolicy, securityHeaders, type SecurityHeadersOptions } from "./headers.js";
export { contentTypeOf, DEFAULT_FORM_MAX_BYTES, readBody, readForm } from "./form.js";
