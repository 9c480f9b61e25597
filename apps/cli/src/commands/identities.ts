// `identities audit`.
import { auditIdentities } from "@altalune/auth";
import type { Runtime } from "../runtime.js";
import { usageError } from "../usage.js";

export async function identities(rt: Runtime, sub: string | undefined): Promise<number> {
  if (sub !== "audit") return usageError("identities needs audit");
  const rows = await auditIdentities(rt.sql);
  const day = (d: Date | null) => (d === null ? "never" : d.toISOString());
  process.stdout.write(["user", "email", "provider", "linked_by", "user_created", "identity_created", "last_login"].join("\t") + "\n");
  for (const r of rows) {
    process.stdout.write(
      [r.userPublicId, r.email, r.provider, r.linkedBy, day(r.userCreatedAt), day(r.identityCreatedAt), day(r.lastLoginAt)].join("\t") + "\n",
    );
  }
  process.stderr.write(
    rows.length === 0
      ? "no identity to review\n"
      : `${rows.length} identit${rows.length === 1 ? "y" : "ies"} may have been linked by email address alone; ` +
          "review them with their users (nothing was changed)\n",
  );
  return 0;
}
