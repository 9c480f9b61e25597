import { invalidArgument } from "@altalune/core";
import { domainErrors } from "../../shared/domain-errors.js";

export const ProjectCodes = { NotFound: "60301", AlreadyExists: "60302", DefaultUndeletable: "60303" } as const;

const project = domainErrors("Project", "project_id");

// "Project not found", without the id: the original's message.
export const projectNotFound = project.aboutRow(ProjectCodes.NotFound, "not_found", "Project not found");

export const projectAlreadyExists = project.alreadyExists(ProjectCodes.AlreadyExists, "name");

export const defaultProjectUndeletable = project.aboutRow(ProjectCodes.DefaultUndeletable, "failed_precondition", "The default project cannot be deleted");

export const invalidTimezone = (timezone: string) =>
  invalidArgument(`timezone '${timezone}' is not a valid IANA time zone`, { timezone: "timezone.iana" });
