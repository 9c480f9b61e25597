import { newPublicId } from "@altalune/core";
import {
  createProjectPartitions,
  defineListSpec,
  dropProjectPartitions,
  isUniqueViolation,
  runListQuery,
  type ListQuery,
  type ListResult,
  type Sql,
  type TransactionSql,
} from "@altalune/db";
import { defaultProjectUndeletable, projectAlreadyExists, projectNotFound } from "./errors.js";
import { projectFromRow, type ProjectRow } from "./mapper.js";
import { SUPERADMIN_ROLE } from "../role/model.js";
import { ENVIRONMENTS, type CreateProjectInput, type Project, type ProjectRef, type UpdateProjectInput } from "./model.js";

const NAME_UNIQUE = "ux_altalune_projects_name";

const columns = ["id", "public_id", "name", "description", "timezone", "environment", "is_default", "created_at", "updated_at"];

export const projectListSpec = defineListSpec({
  from: "altalune_projects",
  columns,
  searchable: ["name", "description"],
  filters: {
    environment: { column: "environment" },
    environments: { column: "environment" },
    timezone: { column: "timezone" },
    timezones: { column: "timezone" },
    name: { column: "name" },
  },
  sortable: {
    name: "name",
    environment: "environment",
    timezone: "timezone",
    createdAt: "created_at",
    updatedAt: "updated_at",
    id: "id",
  },
  defaultSort: { column: "name", order: "asc" },
  unknownSortFallback: "name",
  tieBreaker: "id",
  catalog: {
    environments: { values: [...ENVIRONMENTS] },
    timezones: { distinct: "timezone" },
  },
});

/**
 * Creating or dropping a partition changes the foreign-key triggers on altalune_projects, which
 * needs a SHARE ROW EXCLUSIVE lock on it. Taking that lock first, before the insert or delete,
 * serialises project creation and deletion; without it two concurrent creates deadlock (each
 * holds a row lock the other's DDL waits for).
 */
async function lockProjectsForPartitionDdl(tx: TransactionSql): Promise<void> {
  await tx`lock table altalune_projects in share row exclusive mode`;
}

export class ProjectRepo {
  constructor(private readonly sql: Sql) {}

  /** `visiblePublicIds`, when given, restricts the list (rows, total, catalog) to those projects. */
  async query(query: ListQuery, visiblePublicIds?: readonly string[]): Promise<ListResult<Project>> {
    const result = await runListQuery<ProjectRow>(
      this.sql,
      projectListSpec,
      query,
      visiblePublicIds === undefined ? {} : { visibleOnly: { column: "public_id", values: visiblePublicIds } },
    );
    return { ...result, rows: result.rows.map(projectFromRow) };
  }

  async getByPublicId(publicId: string): Promise<Project> {
    const [row] = await this.sql<ProjectRow[]>`
      select ${this.sql(columns)} from altalune_projects where public_id = ${publicId}`;
    if (row === undefined) throw projectNotFound(publicId);
    return projectFromRow(row);
  }

  /** Resolves a project-scoped request's project_id; an unknown project is NotFound (60301). */
  async resolve(publicId: string): Promise<ProjectRef> {
    const [row] = await this.sql<{ id: string }[]>`select id from altalune_projects where public_id = ${publicId}`;
    if (row === undefined) throw projectNotFound(publicId);
    return { id: row.id, publicId };
  }

  async findDefault(): Promise<Project | undefined> {
    const [row] = await this.sql<ProjectRow[]>`
      select ${this.sql(columns)} from altalune_projects where is_default`;
    return row === undefined ? undefined : projectFromRow(row);
  }

  /** Inserts the project and its partitions in one transaction: both exist, or neither. */
  async create(input: CreateProjectInput): Promise<Project> {
    try {
      return await this.sql.begin(async (tx) => {
        await lockProjectsForPartitionDdl(tx);
        const [row] = await tx<ProjectRow[]>`
          insert into altalune_projects (public_id, name, description, timezone, environment, is_default)
          values (${newPublicId()}, ${input.name}, ${input.description}, ${input.timezone}, ${input.environment},
                  ${input.isDefault ?? false})
          returning ${tx(columns)}`;
        if (row === undefined) throw new Error("insert into altalune_projects returned no row");
        await createProjectPartitions(tx, row.id);
        // Every superadmin owns every project from its first moment, in the same transaction.
        await tx`
          insert into altalune_project_members (project_id, user_id, role)
          select ${row.id}, ur.user_id, 'owner'
          from altalune_users_roles ur join altalune_roles r on r.id = ur.role_id
          where r.system_key = ${SUPERADMIN_ROLE}
          order by ur.user_id
          on conflict do nothing`;
        return projectFromRow(row);
      });
    } catch (e) {
      if (isUniqueViolation(e, NAME_UNIQUE)) throw projectAlreadyExists(input.name);
      throw e;
    }
  }

  /** Name, description and timezone only: the environment is fixed at creation. */
  async update(input: UpdateProjectInput): Promise<Project> {
    try {
      const [row] = await this.sql<ProjectRow[]>`
        update altalune_projects
        set name = ${input.name}, description = ${input.description}, timezone = ${input.timezone},
            updated_at = CURRENT_TIMESTAMP
        where public_id = ${input.publicId}
        returning ${this.sql(columns)}`;
      if (row === undefined) throw projectNotFound(input.publicId);
      return projectFromRow(row);
    } catch (e) {
      if (isUniqueViolation(e, NAME_UNIQUE)) throw projectAlreadyExists(input.name);
      throw e;
    }
  }

  /**
   * Drops the project's partitions and deletes it in one transaction. The row is locked first,
   * so the default-project check and the delete cannot be separated by a concurrent change.
   */
  async delete(publicId: string): Promise<void> {
    await this.sql.begin(async (tx) => {
      await lockProjectsForPartitionDdl(tx);
      const [row] = await tx<{ id: string; is_default: boolean }[]>`
        select id, is_default from altalune_projects where public_id = ${publicId} for update`;
      if (row === undefined) throw projectNotFound(publicId);
      if (row.is_default) throw defaultProjectUndeletable(publicId);
      await dropProjectPartitions(tx, row.id);
      await tx`delete from altalune_projects where id = ${row.id}`;
    });
  }
}
