// `token issue`.
import { ConfigError } from "@altalune/core";
import { issueAccessToken, parseTtl } from "@altalune/auth";
import { requireEncryptionKey, type Runtime } from "../runtime.js";
import { usageError } from "../usage.js";

export async function token(rt: Runtime, sub: string | undefined, email: string | undefined, ttlText: string | undefined): Promise<number> {
  if (sub !== "issue" || email === undefined) return usageError("token needs: issue --email <address> [--ttl 15m]");
  let ttlSeconds: number | undefined;
  try {
    ttlSeconds = ttlText === undefined ? undefined : parseTtl(ttlText);
    requireEncryptionKey(rt);
    const issued = await issueAccessToken({ sql: rt.sql, config: rt.config, email, ...(ttlSeconds ? { ttlSeconds } : {}) });
    rt.logger.info({ user: issued.userPublicId, kid: issued.kid, expiresAt: issued.expiresAt.toISOString() }, "access token issued");
    process.stdout.write(`${issued.token}\n`);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
