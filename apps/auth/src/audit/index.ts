export { auditProviderEvents, SecurityAudit, securityRecord, type RequestOrigin, type SecurityEvent } from "./security-audit.js";
