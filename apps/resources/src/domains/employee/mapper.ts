import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { EmployeeSchema, EmployeeStatus as EmployeeStatusProto, type Employee as EmployeeMessage } from "@altalune/proto";
import { enumMapping } from "../../shared/enum-mapping.js";
import { EMPLOYEE_STATUSES, type Employee, type EmployeeStatus } from "./model.js";

export interface EmployeeRow {
  public_id: string;
  name: string;
  email: string;
  role: string;
  department: string;
  status: string;
  created_at: Date;
  updated_at: Date;
}

/** The columns the repo's statements read back, each a field of EmployeeRow (beside it, so the two change together). */
export const employeeColumns = ["public_id", "name", "email", "role", "department", "status", "created_at", "updated_at"] as const satisfies readonly (keyof EmployeeRow)[];

const statuses = enumMapping<EmployeeStatus, EmployeeStatusProto>("employee status", {
  active: EmployeeStatusProto.ACTIVE,
  inactive: EmployeeStatusProto.INACTIVE,
});

/** The proto enum as the stored value; UNSPECIFIED never gets here (validation rejects it). */
export const statusFromProto = statuses.fromProto;

function isStatus(value: string): value is EmployeeStatus {
  return (EMPLOYEE_STATUSES as readonly string[]).includes(value);
}

export function employeeFromRow(row: EmployeeRow): Employee {
  if (!isStatus(row.status)) throw new Error(`employee ${row.public_id}: unknown status ${row.status}`);
  return {
    publicId: row.public_id,
    name: row.name,
    email: row.email,
    role: row.role,
    department: row.department,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function employeeToProto(e: Employee): EmployeeMessage {
  return create(EmployeeSchema, {
    id: e.publicId,
    name: e.name,
    email: e.email,
    role: e.role,
    department: e.department,
    status: statuses.toProto(e.status),
    createdAt: timestampFromDate(e.createdAt),
    updatedAt: timestampFromDate(e.updatedAt),
  });
}
