import type { Logger } from "@altalune/core";
import { isUniqueViolation, type Sql } from "@altalune/db";
import { ProjectRepo } from "./domains/project/repo.js";

// Idempotent: running it again changes nothing. The default project is found by its flag, never
// by an id, so installations with other data keep working.
export async function seed(sql: Sql, logger: Pick<Logger, "info">): Promise<void> {
  const projects = new ProjectRepo(sql);
  if ((await projects.findDefault()) !== undefined) return;
  try {
    const project = await projects.create({
      name: "Default Project",
      description: "Default project for onboarding",
      timezone: "Asia/Jakarta",
      environment: "live",
      isDefault: true,
    });
    logger.info(`seeded the default project ${project.publicId}`);
  } catch (e) {
    // Another process seeding at the same moment won the race: its default project stands.
    if (!isUniqueViolation(e, "ux_altalune_projects_default")) throw e;
  }
}
