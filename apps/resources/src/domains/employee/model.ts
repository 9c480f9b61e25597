export const EMPLOYEE_STATUSES = ["active", "inactive"] as const;
export type EmployeeStatus = (typeof EMPLOYEE_STATUSES)[number];

export interface Employee {
  publicId: string;
  name: string;
  email: string;
  role: string;
  department: string;
  status: EmployeeStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface EmployeeInput {
  name: string;
  email: string;
  role: string;
  department: string;
  status: EmployeeStatus;
}
