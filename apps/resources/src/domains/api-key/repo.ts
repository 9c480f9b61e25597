import {
  auditedWrite,
  defineListSpec,
  isUniqueViolationOf,
  runListQuery,
  type FilterSpec,
  type ListQuery,
  type ListResult,
  type Sql,
} from "@altalune/db";
import { rethrowMissingProject } from "../../shared/project-scoped.js";
import type { ProjectRef } from "../project/index.js";
import { apiKeyAlreadyExists, apiKeyNotFound } from "./errors.js";
import { apiKeyColumns, apiKeyFromRow, type ApiKeyRow } from "./mapper.js";
import { API_KEY_STATUSES, EXPIRING_SOON_MS, type ApiKey, type ApiKeyInput } from "./model.js";
import { orderedBy } from "../../shared/table-reads.js";

const NAME_UNIQUE = "ux_altalune_project_api_keys_name";

/**
 * The list spec at a given instant: the status filter compares expirations with `now`, passed
 * as a parameter so that tests (and the row's reported status) use the same clock. The four
 * conditions are disjoint and cover every key, like `apiKeyStatus`.
 */
function apiKeyListSpec(now: Date) {
  const soon = new Date(now.getTime() + EXPIRING_SOON_MS);
  const statusFilter: FilterSpec = {
    kind: "computed",
    values: {
      active: (sql) => sql`(active and expiration > ${soon})`,
      expiring_soon: (sql) => sql`(active and expiration > ${now} and expiration <= ${soon})`,
      inactive: (sql) => sql`(not active and expiration > ${now})`,
      expired: (sql) => sql`(expiration <= ${now})`,
    },
  };
  return defineListSpec({
    from: "altalune_project_api_keys",
    scope: ["project_id"],
    columns: apiKeyColumns,
    searchable: ["name"],
    filters: {
      name: { column: "name" },
      names: { column: "name" },
      status: statusFilter,
      statuses: statusFilter,
    },
    sortable: { name: "name", expiration: "expiration", createdAt: "created_at", updatedAt: "updated_at", id: "id" },
    ...orderedBy("updated_at", "desc"),
    catalog: { names: { distinct: "name" }, statuses: { values: [...API_KEY_STATUSES] } },
  });
}

/** What verifying a presented key needs: never returned by any RPC. */
export interface ApiKeyCredential {
  projectId: string;
  keyId: string;
  keyHash: Buffer;
  active: boolean;
  expiration: Date;
}

export class ApiKeyRepo {
  constructor(private readonly sql: Sql) {}

  async query(project: ProjectRef, query: ListQuery, now: Date): Promise<ListResult<ApiKey>> {
    const result = await runListQuery<ApiKeyRow>(this.sql, apiKeyListSpec(now), query, { scope: { project_id: project.id } });
    return { ...result, rows: result.rows.map(apiKeyFromRow) };
  }

  async get(project: ProjectRef, publicId: string): Promise<ApiKey> {
    const [row] = await this.sql<ApiKeyRow[]>`
      select ${this.sql(apiKeyColumns)} from altalune_project_api_keys
      where project_id = ${project.id} and public_id = ${publicId}`;
    if (row === undefined) throw apiKeyNotFound(publicId);
    return apiKeyFromRow(row);
  }

  async create(project: ProjectRef, publicId: string, input: ApiKeyInput, keyHash: Buffer): Promise<ApiKey> {
    try {
      const [row] = await auditedWrite<ApiKeyRow>(
        this.sql,
        this.sql`
          insert into altalune_project_api_keys (project_id, public_id, name, expiration, key_hash)
          values (${project.id}, ${publicId}, ${input.name}, ${input.expiration}, ${keyHash})
          returning ${this.sql(apiKeyColumns)}`,
        "public_id",
      );
      if (row === undefined) throw new Error("insert into altalune_project_api_keys returned no row");
      return apiKeyFromRow(row);
    } catch (e) {
      if (await isUniqueViolationOf(this.sql, e, NAME_UNIQUE)) throw apiKeyAlreadyExists(input.name);
      return rethrowMissingProject(e, project);
    }
  }

  async update(project: ProjectRef, publicId: string, input: ApiKeyInput): Promise<ApiKey> {
    try {
      const [row] = await auditedWrite<ApiKeyRow>(
        this.sql,
        this.sql`
          update altalune_project_api_keys
          set name = ${input.name}, expiration = ${input.expiration}, updated_at = CURRENT_TIMESTAMP
          where project_id = ${project.id} and public_id = ${publicId}
          returning ${this.sql(apiKeyColumns)}`,
      );
      if (row === undefined) throw apiKeyNotFound(publicId);
      return apiKeyFromRow(row);
    } catch (e) {
      if (await isUniqueViolationOf(this.sql, e, NAME_UNIQUE)) throw apiKeyAlreadyExists(input.name);
      throw e;
    }
  }

  /**
   * Sets the active flag; activation only while the key is unexpired at `now` (checked in the
   * same statement, so a concurrent update of the expiration cannot slip between check and write).
   * Returns undefined when the key exists but has expired.
   */
  async setActive(project: ProjectRef, publicId: string, active: boolean, now: Date): Promise<ApiKey | undefined> {
    const [row] = await auditedWrite<ApiKeyRow>(
      this.sql,
      this.sql`
        update altalune_project_api_keys
        set active = ${active}, updated_at = CURRENT_TIMESTAMP
        where project_id = ${project.id} and public_id = ${publicId} and (${!active} or expiration > ${now})
        returning ${this.sql(apiKeyColumns)}`,
    );
    if (row !== undefined) return apiKeyFromRow(row);
    await this.get(project, publicId); // NotFound when it does not exist at all
    return undefined;
  }

  async delete(project: ProjectRef, publicId: string): Promise<void> {
    const deleted = await auditedWrite(
      this.sql,
      this.sql`delete from altalune_project_api_keys where project_id = ${project.id} and public_id = ${publicId} returning public_id`,
    );
    if (deleted.length === 0) throw apiKeyNotFound(publicId);
  }

  /**
   * The credential of a presented key: one probe on the projects' public_id index, then one on the
   * project's partition (the constant project_id prunes every other partition at plan time).
   */
  async findCredential(projectPublicId: string, keyPublicId: string): Promise<ApiKeyCredential | undefined> {
    const [project] = await this.sql<{ id: string }[]>`select id from altalune_projects where public_id = ${projectPublicId}`;
    if (project === undefined) return undefined;
    const [row] = await this.sql<{ id: string; key_hash: Buffer; active: boolean; expiration: Date }[]>`
      select id, key_hash, active, expiration from altalune_project_api_keys
      where project_id = ${project.id} and public_id = ${keyPublicId}`;
    if (row === undefined) return undefined;
    return { projectId: project.id, keyId: row.id, keyHash: row.key_hash, active: row.active, expiration: row.expiration };
  }

  /** Records a use; the WHERE clause makes it a no-op within a minute of the last recorded one. */
  async touchLastUsed(projectId: string, keyId: string): Promise<void> {
    await this.sql`
      update altalune_project_api_keys set last_used_at = now()
      where project_id = ${projectId} and id = ${keyId}
        and (last_used_at is null or last_used_at < now() - interval '1 minute')`;
  }
}
