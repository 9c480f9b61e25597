import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ProjectSchema, type Project as ProjectMessage } from "@altalune/proto";
import { ENVIRONMENTS, type Environment, type Project } from "./model.js";

export interface ProjectRow {
  id: string;
  public_id: string;
  name: string;
  description: string | null;
  timezone: string;
  environment: string;
  is_default: boolean;
  created_at: Date;
  updated_at: Date;
}

/** The columns the repo's statements read back, each a field of ProjectRow (beside it, so the two change together). */
export const projectColumns = ["id", "public_id", "name", "description", "timezone", "environment", "is_default", "created_at", "updated_at"] as const satisfies readonly (keyof ProjectRow)[];

export function isEnvironment(value: string): value is Environment {
  return (ENVIRONMENTS as readonly string[]).includes(value);
}

export function projectFromRow(row: ProjectRow): Project {
  if (!isEnvironment(row.environment)) throw new Error(`project ${row.public_id}: unknown environment ${row.environment}`);
  return {
    id: row.id,
    publicId: row.public_id,
    name: row.name,
    description: row.description ?? "",
    timezone: row.timezone,
    environment: row.environment,
    isDefault: row.is_default,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function projectToProto(p: Project): ProjectMessage {
  return create(ProjectSchema, {
    id: p.publicId,
    name: p.name,
    description: p.description,
    timezone: p.timezone,
    environment: p.environment,
    isDefault: p.isDefault,
    createdAt: timestampFromDate(p.createdAt),
    updatedAt: timestampFromDate(p.updatedAt),
  });
}
