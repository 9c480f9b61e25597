import { AppError, invalidArgument } from "@altalune/core";

export const ProjectCodes = {
  NotFound: "60301",
  AlreadyExists: "60302",
  DefaultUndeletable: "60303",
} as const;

export const projectNotFound = (publicId: string) =>
  new AppError({ code: ProjectCodes.NotFound, status: "not_found", message: "Project not found", meta: { project_id: publicId } });

export const projectAlreadyExists = (name: string) =>
  new AppError({
    code: ProjectCodes.AlreadyExists,
    status: "already_exists",
    message: `Project with name '${name}' already exists`,
    meta: { name },
  });

export const defaultProjectUndeletable = (publicId: string) =>
  new AppError({
    code: ProjectCodes.DefaultUndeletable,
    status: "failed_precondition",
    message: "The default project cannot be deleted",
    meta: { project_id: publicId },
  });

export const invalidTimezone = (timezone: string) =>
  invalidArgument(`timezone '${timezone}' is not a valid IANA time zone`, { timezone: "timezone.iana" });
