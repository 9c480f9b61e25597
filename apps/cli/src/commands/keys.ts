// `keys rotate`.
import { keyRetentionSeconds, rotateSigningKey } from "@altalune/auth";
import { requireEncryptionKey, type Runtime } from "../runtime.js";
import { DEFAULT_ROTATION_DELAY_SECONDS, usageError } from "../usage.js";

export async function keys(rt: Runtime, sub: string | undefined, delayText: string | undefined): Promise<number> {
  if (sub !== "rotate") return usageError("keys needs rotate");
  const delay = delayText === undefined ? DEFAULT_ROTATION_DELAY_SECONDS : Number(delayText);
  if (!Number.isInteger(delay) || delay < 0) {
    process.stderr.write(`--delay-seconds must be a non-negative integer, got ${delayText}\n`);
    return 2;
  }
  const result = await rotateSigningKey(rt.sql, requireEncryptionKey(rt), {
    activationDelaySeconds: delay,
    retentionSeconds: keyRetentionSeconds(rt.config),
  });
  process.stdout.write(
    `new signing key ${result.kid}, signing from ${result.activatesAt.toISOString()}` +
      (result.pruned.length ? `; retired: ${result.pruned.join(", ")}` : "") +
      "\n",
  );
  return 0;
}
