import type { Config, Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { seedIam } from "./domains/iam/seed.js";
import { ProjectRepo } from "./domains/project/repo.js";

// Any fixed 64-bit key works; it only has to differ from the migrator's.
const SEED_LOCK_KEY = 7_245_130_115_009_051n;

/**
 * Idempotent seed data: running it again changes nothing. The default project is found by its
 * flag, never by an id. Processes seeding at the same time (several replicas starting, two
 * `migrate up`) take turns under an advisory lock, so the check and the insert cannot interleave.
 */
export async function seed(
  sql: Sql,
  logger: Pick<Logger, "info">,
  config: Pick<Config, "superadminEmail">,
): Promise<void> {
  const lock = await sql.reserve();
  try {
    await lock`select pg_advisory_lock(${SEED_LOCK_KEY.toString()}::bigint)`;
    await seedDefaultProject(new ProjectRepo(sql), logger);
    // After the project: the superadmin becomes the default project's owner.
    await seedIam(sql, config.superadminEmail, logger);
  } finally {
    await lock`select pg_advisory_unlock(${SEED_LOCK_KEY.toString()}::bigint)`.catch(() => undefined);
    lock.release();
  }
}

async function seedDefaultProject(projects: ProjectRepo, logger: Pick<Logger, "info">): Promise<void> {
  if ((await projects.findDefault()) !== undefined) return;
  const project = await projects.create({
    name: "Default Project",
    description: "Default project for onboarding",
    timezone: "Asia/Jakarta",
    environment: "live",
    isDefault: true,
  });
  logger.info(`seeded the default project ${project.publicId}`);
}
