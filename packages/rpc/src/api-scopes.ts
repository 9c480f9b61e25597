import * as api from "@altalune/proto";
import { ROOT_PERMISSION } from "@altalune/core";
import { rulePermissions, servicesIn } from "./auth-rules.js";

/*
 * The OAuth scopes of the Resources API (API_AUDIENCE): every system permission a method's rule
 * names (employee:read, iam:write, ...), read from the descriptors, so a new rule is a new scope
 * without a second list to keep in step. `root` is never a scope (no rule names it, and it is
 * refused here in case one ever did). Custom, renamable permissions are not scopes: a rule cannot
 * name them, so a token gains nothing from them at this API. The auth server (scopes_supported,
 * the consent page, the token ceiling) and OAuthClientService (allowed_scopes) use this one list.
 */

/** Sorted. */
export const API_SCOPES: readonly string[] = Object.freeze(rulePermissions(servicesIn(api)).filter((p) => p !== ROOT_PERMISSION));
const API_SCOPE_SET: ReadonlySet<string> = new Set(API_SCOPES);

export const isApiScope = (scope: string): boolean => API_SCOPE_SET.has(scope);
