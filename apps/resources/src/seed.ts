import type { Config, Logger } from "@altalune/core";
import { advisoryXactLock, type Sql } from "@altalune/db";
import { seedIam } from "./domains/iam/index.js";
import { seedDashboardClient, type DashboardClientSeedConfig } from "./domains/oauth-client/index.js";
import { ProjectRepo } from "./domains/project/index.js";

/** The advisory lock seeds take turns under (advisory-lock.ts in @altalune/db). */
const SEED_LOCK_KEY = "altalune:seed";

/**
 * Idempotent seed data: running it again changes nothing. The default project is found by its
 * flag, never by an id. Processes seeding at the same time (several replicas starting, two
 * `migrate up`) take turns under an advisory lock, so the check and the insert cannot interleave.
 */
export async function seed(
  sql: Sql,
  logger: Pick<Logger, "info"> & Partial<Pick<Logger, "warn">>,
  // The dashboard client's settings are optional for callers that seed only projects and IAM.
  config: Pick<Config, "superadminEmail"> & Partial<DashboardClientSeedConfig>,
): Promise<void> {
  // The lock belongs to a transaction opened only to hold it (the seed's own statements run on
  // the pool's other connections) and ends with it, on whatever server connection it ran. A
  // session-level lock through a transaction-pooling PgBouncer is taken on one server connection
  // and "released" on another: it stays behind and the next seed waits forever.
  await sql.begin(async (lock) => {
    await advisoryXactLock(lock, SEED_LOCK_KEY);
    await seedDefaultProject(new ProjectRepo(sql), logger);
    // After the project: the superadmin becomes the default project's owner.
    await seedIam(sql, config.superadminEmail, logger);
    if (config.dashboardClient !== undefined && config.branding !== undefined) {
      const { dashboardClient, encryptionKey, branding } = config;
      await seedDashboardClient(sql, { dashboardClient, encryptionKey, branding }, logger);
    }
  });
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
