import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { principalOf } from "@altalune/rpc";
import type {
  CreateProjectRequest,
  DeleteProjectRequest,
  GetProjectRequest,
  ProjectService as ProjectServiceDesc,
  QueryProjectsRequest,
  UpdateProjectRequest,
} from "@altalune/proto";
import { requireTrimmedName } from "../../shared/names.js";
import { listQueryFromProto, queryMetaToProto } from "../../shared/query-mapper.js";
import { invalidTimezone } from "./errors.js";
import { isEnvironment, projectToProto } from "./mapper.js";
import type { ProjectRepo } from "./repo.js";

/** The canonical IANA name ("asia/jakarta" → "Asia/Jakarta"), or undefined when not a time zone. */
export function canonicalTimezone(timezone: string): string | undefined {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

function requireTimezone(timezone: string): string {
  const canonical = canonicalTimezone(timezone.trim());
  if (canonical === undefined) throw invalidTimezone(timezone);
  return canonical;
}

/**
 * Callers who may list projects only through dashboard:read see the projects they are members of;
 * project:read (or root) sees all of them.
 */
function visibleProjects(ctx: HandlerContext): readonly string[] | undefined {
  const p = principalOf(ctx);
  if (p === undefined || p.kind !== "user") return [];
  if (p.permissions.has("root") || p.permissions.has("project:read")) return undefined;
  return [...p.memberships.keys()];
}

export class ProjectService implements ServiceImpl<typeof ProjectServiceDesc> {
  constructor(private readonly projects: ProjectRepo) {}

  async queryProjects(req: QueryProjectsRequest, ctx: HandlerContext) {
    const result = await this.projects.query(listQueryFromProto(req.query), visibleProjects(ctx));
    return { data: result.rows.map(projectToProto), meta: queryMetaToProto(result) };
  }

  async createProject(req: CreateProjectRequest) {
    // The proto's `in` rule already guarantees this; the guard narrows the type.
    if (!isEnvironment(req.environment)) throw new Error(`unvalidated environment ${req.environment}`);
    const project = await this.projects.create({
      name: requireTrimmedName("name", req.name),
      description: req.description.trim(),
      timezone: requireTimezone(req.timezone),
      environment: req.environment,
    });
    return { project: projectToProto(project), message: "Project created successfully" };
  }

  async getProject(req: GetProjectRequest) {
    return { project: projectToProto(await this.projects.getByPublicId(req.id)) };
  }

  async updateProject(req: UpdateProjectRequest) {
    const project = await this.projects.update({
      publicId: req.id,
      name: requireTrimmedName("name", req.name),
      description: req.description.trim(),
      timezone: requireTimezone(req.timezone),
    });
    return { project: projectToProto(project), message: "Project updated successfully" };
  }

  async deleteProject(req: DeleteProjectRequest) {
    await this.projects.delete(req.id);
    return { message: "Project deleted successfully" };
  }
}
