import { ProjectService as ProjectServiceDesc } from "@altalune/proto";
import { defineDomain, type DomainDeps } from "../../shared/domain-module.js";
import { ProjectRepo } from "./repo.js";
import { ProjectService } from "./service.js";

export { projectNotFound } from "./errors.js";
export type { ProjectRef } from "./model.js";
export { ProjectRepo };

// Module-level: `shared` keeps one instance per function.
const newProjectRepo = (deps: DomainDeps) => new ProjectRepo(deps.sql);
/** The container's one ProjectRepo (its id cache serves every project-scoped domain). */
export const projectRepo = (deps: DomainDeps): ProjectRepo => deps.shared(newProjectRepo);

export const projectDomain = defineDomain({
  key: "project",
  service: ProjectServiceDesc,
  create: (deps) => new ProjectService(projectRepo(deps)),
});
