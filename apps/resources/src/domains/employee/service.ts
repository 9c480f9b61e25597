import type { ServiceImpl } from "@connectrpc/connect";
import type {
  CreateEmployeeRequest,
  DeleteEmployeeRequest,
  EmployeeService as EmployeeServiceDesc,
  GetEmployeeRequest,
  QueryEmployeesRequest,
  UpdateEmployeeRequest,
} from "@altalune/proto";
import { trimmedFields } from "../../shared/names.js";
import { listQueryFromProto, queryMetaToProto } from "../../shared/query-mapper.js";
import type { ProjectRepo } from "../project/index.js";
import { employeeToProto, statusFromProto } from "./mapper.js";
import type { EmployeeInput } from "./model.js";
import type { EmployeeRepo } from "./repo.js";

function inputOf(req: CreateEmployeeRequest | UpdateEmployeeRequest): EmployeeInput {
  const fields = trimmedFields({
    name: { value: req.name, minLen: 2 },
    email: { value: req.email },
    role: { value: req.role, minLen: 2 },
    department: { value: req.department, minLen: 2 },
  });
  return { ...fields, status: statusFromProto(req.status) };
}

export class EmployeeService implements ServiceImpl<typeof EmployeeServiceDesc> {
  constructor(
    private readonly employees: EmployeeRepo,
    private readonly projects: Pick<ProjectRepo, "within">,
  ) {}

  async queryEmployees(req: QueryEmployeesRequest) {
    const result = await this.projects.within(
      req.projectId,
      (project) => this.employees.query(project, listQueryFromProto(req.query)),
      (r) => r.rows.length > 0,
    );
    return { data: result.rows.map(employeeToProto), meta: queryMetaToProto(result) };
  }

  async createEmployee(req: CreateEmployeeRequest) {
    const employee = await this.projects.within(req.projectId, (project) => this.employees.create(project, inputOf(req)));
    return { employee: employeeToProto(employee), message: "Employee created successfully" };
  }

  async getEmployee(req: GetEmployeeRequest) {
    const employee = await this.projects.within(req.projectId, (project) => this.employees.get(project, req.employeeId));
    return { employee: employeeToProto(employee) };
  }

  async updateEmployee(req: UpdateEmployeeRequest) {
    const employee = await this.projects.within(req.projectId, (project) => this.employees.update(project, req.employeeId, inputOf(req)));
    return { employee: employeeToProto(employee), message: "Employee updated successfully" };
  }

  async deleteEmployee(req: DeleteEmployeeRequest) {
    await this.projects.within(req.projectId, (project) => this.employees.delete(project, req.employeeId));
    return { message: "Employee deleted successfully" };
  }
}
