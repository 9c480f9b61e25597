import { domainError, domainErrors } from "../../shared/domain-errors.js";

export const EmployeeCodes = { NotFound: "60201", AlreadyExists: "60202" } as const;

const employee = domainErrors("Employee", "employee_id");

export const employeeNotFound = employee.notFound(EmployeeCodes.NotFound);

// Lower-case "employee", as the original answered.
export const employeeAlreadyExists = (email: string) =>
  domainError(EmployeeCodes.AlreadyExists, "already_exists", `employee with email '${email}' already exists`, { email });
