import { AppError } from "@altalune/core";

export const EmployeeCodes = {
  NotFound: "60201",
  AlreadyExists: "60202",
} as const;

export const employeeNotFound = (publicId: string) =>
  new AppError({
    code: EmployeeCodes.NotFound,
    status: "not_found",
    message: `Employee with ID '${publicId}' not found`,
    meta: { employee_id: publicId },
  });

export const employeeAlreadyExists = (email: string) =>
  new AppError({
    code: EmployeeCodes.AlreadyExists,
    status: "already_exists",
    message: `employee with email '${email}' already exists`,
    meta: { email },
  });
