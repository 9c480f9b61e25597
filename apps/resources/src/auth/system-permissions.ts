import { API_SCOPES } from "@altalune/rpc";
import { ROOT_PERMISSION } from "@altalune/core";

/*
 * The system permissions the seed creates: `root`, every permission an RPC rule names (read from
 * the descriptors, as API_SCOPES), and the few below that no rule names. A new domain's
 * permissions exist as soon as its proto's rules name them; nothing here needs an edit for it.
 */

/**
 * Permissions no rule names that the original's dashboard still expects to find (it lists and
 * assigns them): its chatbot settings, and deleting project members (RemoveProjectMembers asks
 * for member:write).
 */
export const DASHBOARD_ONLY_PERMISSIONS: readonly string[] = ["chatbot:read", "chatbot:write", "chatbot:delete", "member:delete"];

export interface SystemPermission {
  /** Also its system key. */
  name: string;
  /** Only the description it is created with: an administrator may change it. */
  description: string;
}

/** Descriptions that do not follow "<verb> <noun>". */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  [ROOT_PERMISSION]: "Full system access - wildcard permission",
  "dashboard:read": "Basic dashboard read access",
  "iam:read": "View role and permission assignments",
  "iam:write": "Change role and permission assignments",
  "audit:read": "View the audit log",
};

/** What an entity's permissions are about, where its name alone would read badly. */
const NOUNS: Readonly<Record<string, string>> = {
  employee: "employees",
  user: "users",
  role: "roles",
  permission: "permissions",
  project: "projects",
  apikey: "API keys",
  chatbot: "chatbot settings",
  client: "OAuth clients",
  provider: "OAuth providers",
  member: "project members",
};

const VERBS: Readonly<Record<string, string>> = { read: "View", write: "Create and update", delete: "Delete" };

function describe(name: string): string {
  const fixed = DESCRIPTIONS[name];
  if (fixed !== undefined) return fixed;
  const [entity = name, action = ""] = name.split(":");
  return `${VERBS[action] ?? action} ${NOUNS[entity] ?? `${entity} records`}`;
}

/** `root` first, then by name. */
export const SYSTEM_PERMISSIONS: readonly SystemPermission[] = [
  ROOT_PERMISSION,
  ...[...new Set([...API_SCOPES, ...DASHBOARD_ONLY_PERMISSIONS])].sort(),
].map((name) => ({ name, description: describe(name) }));
