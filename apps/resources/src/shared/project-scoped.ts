import { classifyPgError } from "@altalune/db";
import { projectNotFound, type ProjectRef } from "../domains/project/index.js";

/**
 * A row inserted into a partitioned table whose project was deleted a moment ago finds no
 * partition (PostgreSQL reports a check violation without a constraint). For the caller that
 * project no longer exists.
 */
export function rethrowMissingProject(e: unknown, project: ProjectRef): never {
  const info = classifyPgError(e);
  if (info?.kind === "check_violation" && info.constraint === undefined) throw projectNotFound(project.publicId);
  if (info?.kind === "foreign_key_violation" && info.constraint?.includes("project_id")) throw projectNotFound(project.publicId);
  throw e;
}
