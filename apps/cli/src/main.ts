#!/usr/bin/env node
// The `altalune` command. Run with `pnpm altalune <command>` (or `pnpm start` for `dev`).
import { parseArgs } from "node:util";
import { ConfigError, createLogger, loadConfig, withDevSecrets } from "@altalune/core";
import { identities } from "./commands/identities.js";
import { keys } from "./commands/keys.js";
import { migrate, migrateAndSeed, seedDatabase } from "./commands/migrate.js";
import { serve } from "./commands/serve.js";
import { token } from "./commands/token.js";
import { openRuntime } from "./runtime.js";
import { USAGE, usageError } from "./usage.js";

async function main(argv: string[]): Promise<number> {
  const startedAt = performance.now();
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "skip-seed": { type: "boolean", default: false },
      email: { type: "string" },
      ttl: { type: "string" },
      "delay-seconds": { type: "string" },
      steps: { type: "string", default: "1" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command, sub] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }

  const loaded = loadConfig();
  // Servers log to stdout; one-shot commands keep stdout for their result (a token, a status).
  const logger = createLogger({ level: loaded.logLevel, toStderr: !["dev", "serve", "serve-auth"].includes(command) });
  const config = await withDevSecrets(loaded, logger);
  const rt = await openRuntime(config, logger);
  try {
    switch (command) {
      case "dev":
        await migrateAndSeed(rt, false);
        await serve(rt, startedAt, { resources: true, auth: true, web: true });
        return 0;
      case "serve":
        await serve(rt, startedAt, { resources: true, auth: false });
        return 0;
      case "serve-auth":
        await serve(rt, startedAt, { resources: false, auth: true });
        return 0;
      case "keys":
        return await keys(rt, sub, values["delay-seconds"]);
      case "token":
        return await token(rt, sub, values.email, values.ttl);
      case "identities":
        return await identities(rt, sub);
      case "seed":
        await seedDatabase(rt);
        return 0;
      case "migrate":
        return await migrate(rt, sub, values["skip-seed"], values.steps);
      default:
        return usageError(`unknown command: ${command}`);
    }
  } finally {
    await rt.shutdown();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof ConfigError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
