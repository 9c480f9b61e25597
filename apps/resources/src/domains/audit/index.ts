import { AuditService as AuditServiceDesc } from "@altalune/proto";
import { defineDomain } from "../../shared/domain-module.js";
import { AuditRepo } from "./repo.js";
import { AuditService } from "./service.js";

export { startAuditMaintenance } from "./maintenance.js";

export const auditDomain = defineDomain({
  key: "audit",
  service: AuditServiceDesc,
  create: (deps) => new AuditService(new AuditRepo(deps.sql)),
});
