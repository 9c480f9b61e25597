import { EmployeeService as EmployeeServiceDesc } from "@altalune/proto";
import { defineDomain } from "../../shared/domain-module.js";
import { projectRepo } from "../project/index.js";
import { EmployeeRepo } from "./repo.js";
import { EmployeeService } from "./service.js";

export const employeeDomain = defineDomain({
  key: "employee",
  service: EmployeeServiceDesc,
  create: (deps) => new EmployeeService(new EmployeeRepo(deps.sql), projectRepo(deps)),
});
