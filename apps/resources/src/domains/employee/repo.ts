import { newPublicId } from "@altalune/core";
import { auditedWrite, defineListSpec, isUniqueViolationOf, runListQuery, type ListQuery, type ListResult, type Sql } from "@altalune/db";
import { rethrowMissingProject } from "../../shared/project-scoped.js";
import type { ProjectRef } from "../project/index.js";
import { employeeAlreadyExists, employeeNotFound } from "./errors.js";
import { employeeColumns, employeeFromRow, type EmployeeRow } from "./mapper.js";
import { EMPLOYEE_STATUSES, type Employee, type EmployeeInput } from "./model.js";
import { orderedBy } from "../../shared/table-reads.js";

const EMAIL_UNIQUE = "ux_altalune_example_employees_email";

export const employeeListSpec = defineListSpec({
  from: "altalune_example_employees",
  scope: ["project_id"],
  columns: employeeColumns,
  searchable: ["name", "email", "role", "department"],
  filters: {
    role: { column: "role" },
    roles: { column: "role" },
    department: { column: "department" },
    departments: { column: "department" },
    status: { column: "status" },
    statuses: { column: "status" },
    name: { column: "name" },
    email: { column: "email" },
  },
  sortable: {
    name: "name",
    email: "email",
    role: "role",
    department: "department",
    status: "status",
    createdAt: "created_at",
    updatedAt: "updated_at",
    id: "id",
  },
  ...orderedBy("created_at", "desc", "updated_at"),
  catalog: {
    // Loose index scans over the (project_id, role|department) indexes of migration 0006.
    roles: { distinct: "role", indexed: true },
    departments: { distinct: "department", indexed: true },
    statuses: { values: [...EMPLOYEE_STATUSES] },
  },
});

/**
 * Every statement names the project first, so PostgreSQL touches one partition only. Each write
 * is one statement carrying the call's audit row (auditedWrite: same statement, same round trip).
 */
export class EmployeeRepo {
  constructor(private readonly sql: Sql) {}

  async query(project: ProjectRef, query: ListQuery): Promise<ListResult<Employee>> {
    const result = await runListQuery<EmployeeRow>(this.sql, employeeListSpec, query, { scope: { project_id: project.id } });
    return { ...result, rows: result.rows.map(employeeFromRow) };
  }

  async get(project: ProjectRef, publicId: string): Promise<Employee> {
    const [row] = await this.sql<EmployeeRow[]>`
      select ${this.sql(employeeColumns)} from altalune_example_employees
      where project_id = ${project.id} and public_id = ${publicId}`;
    if (row === undefined) throw employeeNotFound(publicId);
    return employeeFromRow(row);
  }

  async create(project: ProjectRef, input: EmployeeInput): Promise<Employee> {
    try {
      const [row] = await auditedWrite<EmployeeRow>(
        this.sql,
        this.sql`
          insert into altalune_example_employees (project_id, public_id, name, email, role, department, status)
          values (${project.id}, ${newPublicId()}, ${input.name}, ${input.email}, ${input.role}, ${input.department},
                  ${input.status})
          returning ${this.sql(employeeColumns)}`,
        "public_id",
      );
      if (row === undefined) throw new Error("insert into altalune_example_employees returned no row");
      return employeeFromRow(row);
    } catch (e) {
      if (await isUniqueViolationOf(this.sql, e, EMAIL_UNIQUE)) throw employeeAlreadyExists(input.email);
      return rethrowMissingProject(e, project);
    }
  }

  async update(project: ProjectRef, publicId: string, input: EmployeeInput): Promise<Employee> {
    try {
      const [row] = await auditedWrite<EmployeeRow>(
        this.sql,
        this.sql`
          update altalune_example_employees
          set name = ${input.name}, email = ${input.email}, role = ${input.role}, department = ${input.department},
              status = ${input.status}, updated_at = CURRENT_TIMESTAMP
          where project_id = ${project.id} and public_id = ${publicId}
          returning ${this.sql(employeeColumns)}`,
      );
      if (row === undefined) throw employeeNotFound(publicId);
      return employeeFromRow(row);
    } catch (e) {
      if (await isUniqueViolationOf(this.sql, e, EMAIL_UNIQUE)) throw employeeAlreadyExists(input.email);
      throw e;
    }
  }

  async delete(project: ProjectRef, publicId: string): Promise<void> {
    const deleted = await auditedWrite(
      this.sql,
      this.sql`delete from altalune_example_employees where project_id = ${project.id} and public_id = ${publicId} returning public_id`,
    );
    if (deleted.length === 0) throw employeeNotFound(publicId);
  }
}
