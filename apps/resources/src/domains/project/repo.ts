import { BoundedCache, newPublicId } from "@altalune/core";
import {
  auditedWrite,
  createProjectPartitions,
  defineListSpec,
  dropProjectPartitions,
  isUniqueViolation,
  type ListQuery,
  type ListResult,
  type Sql,
  type TransactionSql,
} from "@altalune/db";
import { defaultProjectUndeletable, projectAlreadyExists, projectNotFound } from "./errors.js";
import { projectColumns, projectFromRow, type ProjectRow } from "./mapper.js";
import { SUPERADMIN_ROLE } from "../role/index.js";
import { ENVIRONMENTS, type CreateProjectInput, type Project, type ProjectRef, type UpdateProjectInput } from "./model.js";
import { orderedBy, tableReads } from "../../shared/table-reads.js";

const NAME_UNIQUE = "ux_altalune_projects_name";


export const projectListSpec = defineListSpec({
  from: "altalune_projects",
  columns: projectColumns,
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
  ...orderedBy("name", "asc"),
  catalog: {
    environments: { values: [...ENVIRONMENTS] },
    timezones: { distinct: "timezone" },
  },
});

const reads = tableReads(projectListSpec, projectFromRow, projectNotFound);

/**
 * Creating or dropping a partition changes the foreign-key triggers on altalune_projects, which
 * needs a SHARE ROW EXCLUSIVE lock on it. Taking that lock first, before the insert or delete,
 * serialises project creation and deletion; without it two concurrent creates deadlock (each
 * holds a row lock the other's DDL waits for).
 */
async function lockProjectsForPartitionDdl(tx: TransactionSql): Promise<void> {
  await tx`lock table altalune_projects in share row exclusive mode`;
}

/**
 * Public id → row id of projects, for project-scoped calls (ProjectRepo.within). An entry can only
 * go stale by its project being deleted: neither id of a project ever changes, and neither is
 * reused (row ids come from a sequence, public ids are random and unique). A statement run with
 * a deleted project's row id finds nothing (its partitions were dropped in the deleting
 * transaction) or fails (no partition, foreign key), so `within` re-resolves the project from the
 * database whenever a call ends without proof that the project exists — and then answers NotFound
 * like an uncached lookup, and forgets the entry. Bounded (no TTL: nothing but a deletion makes an
 * entry wrong): the entry stored longest ago goes first.
 */
export function projectIdCache(maxEntries = 10_000): BoundedCache<string, string> {
  return new BoundedCache({ maxEntries });
}

export class ProjectRepo {
  private readonly knownIds: BoundedCache<string, string>;

  constructor(
    private readonly sql: Sql,
    opts: { maxCachedIds?: number } = {},
  ) {
    this.knownIds = projectIdCache(opts.maxCachedIds);
  }

  /** `visiblePublicIds`, when given, restricts the list (rows, total, catalog) to those projects. */
  query(query: ListQuery, visiblePublicIds?: readonly string[]): Promise<ListResult<Project>> {
    return reads.query(this.sql, query, visiblePublicIds === undefined ? {} : { visibleOnly: { column: "public_id", values: visiblePublicIds } });
  }

  getByPublicId(publicId: string): Promise<Project> {
    return reads.byPublicId(this.sql, publicId);
  }

  /** Resolves a project-scoped request's project_id; an unknown project is NotFound (60301). */
  async resolve(publicId: string): Promise<ProjectRef> {
    const [row] = await this.sql<{ id: string }[]>`select id from altalune_projects where public_id = ${publicId}`;
    if (row === undefined) {
      this.knownIds.delete(publicId);
      throw projectNotFound(publicId);
    }
    return { id: row.id, publicId };
  }

  /**
   * Runs a project-scoped operation with its project resolved, answering exactly as `resolve`
   * followed by `run` would (an unknown or deleted project is NotFound 60301, whatever `run` would
   * have said), but without the lookup on every call: the public id → row id mapping of projects
   * seen before is remembered (bounded, see projectIdCache for why it stays correct).
   * `proves` tells whether a successful result shows the project exists (a row of it was read or
   * written); default: every success does. Queries pass "some row came back".
   */
  async within<T>(publicId: string, run: (project: ProjectRef) => Promise<T>, proves: (result: T) => boolean = () => true): Promise<T> {
    const id = this.knownIds.get(publicId)?.value;
    if (id === undefined) {
      const project = await this.resolve(publicId);
      this.knownIds.set(publicId, project.id);
      return run(project);
    }
    const project = { id, publicId };
    let result: T;
    try {
      result = await run(project);
    } catch (e) {
      // The project may have been deleted since it was remembered: then that is the answer.
      await this.resolve(publicId);
      throw e;
    }
    if (!proves(result)) await this.resolve(publicId);
    return result;
  }

  async findDefault(): Promise<Project | undefined> {
    const [row] = await this.sql<ProjectRow[]>`
      select ${this.sql(projectColumns)} from altalune_projects where is_default`;
    return row === undefined ? undefined : projectFromRow(row);
  }

  /** Inserts the project and its partitions in one transaction: both exist, or neither. */
  async create(input: CreateProjectInput): Promise<Project> {
    try {
      return await this.sql.begin(async (tx) => {
        await lockProjectsForPartitionDdl(tx);
        const [row] = await auditedWrite<ProjectRow>(
          tx,
          tx`
            insert into altalune_projects (public_id, name, description, timezone, environment, is_default)
            values (${newPublicId()}, ${input.name}, ${input.description}, ${input.timezone}, ${input.environment},
                    ${input.isDefault ?? false})
            returning ${tx(projectColumns)}`,
          "public_id",
        );
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
      const [row] = await auditedWrite<ProjectRow>(
        this.sql,
        this.sql`
          update altalune_projects
          set name = ${input.name}, description = ${input.description}, timezone = ${input.timezone},
              updated_at = CURRENT_TIMESTAMP
          where public_id = ${input.publicId}
          returning ${this.sql(projectColumns)}`,
      );
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
    // This process forgets at once; other replicas on the next call that finds nothing.
    this.knownIds.delete(publicId);
  }
}
