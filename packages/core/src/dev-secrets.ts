import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { Config } from "./config.js";
import { randomSecret } from "./crypto.js";
import type { Logger } from "./logger.js";

const fileSchema = z.object({
  encryptionKey: z.string().optional(),
  dashboardClientId: z.string().optional(),
  dashboardClientSecret: z.string().optional(),
});
type DevSecrets = z.infer<typeof fileSchema>;

/**
 * Outside production, secrets the operator did not set are generated once and kept in
 * `<DATA_DIR>/secrets.json` (mode 0600), so `pnpm start` needs no configuration and restarts
 * keep tokens and sealed secrets valid. Production never reaches here with a gap: loadConfig
 * refuses to start without them.
 */
export async function withDevSecrets(config: Config, logger: Logger): Promise<Config> {
  if (config.production) return config;
  const needKey = config.encryptionKey === undefined;
  const needClient = config.dashboardClient.clientId === undefined || config.dashboardClient.clientSecret === undefined;
  if (!needKey && !needClient) return config;

  const path = join(config.dataDir, "secrets.json");
  let stored: DevSecrets = {};
  try {
    stored = fileSchema.parse(JSON.parse(await readFile(path, "utf8")));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`${path} is unreadable; delete it to regenerate`, { cause: e });
  }
  const next: DevSecrets = {
    encryptionKey: stored.encryptionKey ?? randomBytes(32).toString("base64"),
    dashboardClientId: stored.dashboardClientId ?? randomUUID(),
    dashboardClientSecret: stored.dashboardClientSecret ?? randomSecret(32),
  };
  if (JSON.stringify(next) !== JSON.stringify(stored)) {
    await mkdir(config.dataDir, { recursive: true });
    await writeFile(path, JSON.stringify(next, null, 2) + "\n", { mode: 0o600 });
    logger.warn({ path }, "development secrets generated (ENCRYPTION_KEY, dashboard client); set them explicitly in production");
  }
  return {
    ...config,
    encryptionKey: config.encryptionKey ?? Buffer.from(next.encryptionKey as string, "base64"),
    dashboardClient: {
      ...config.dashboardClient,
      clientId: config.dashboardClient.clientId ?? next.dashboardClientId,
      clientSecret: config.dashboardClient.clientSecret ?? next.dashboardClientSecret,
    },
  };
}
