// `pnpm --filter @altalune/web build`: the static files for a deployment (apps/web/dist).
import { buildWebApp, DIST_DIR } from "./build.js";

await buildWebApp();
process.stdout.write(`built ${DIST_DIR}\n`);
