import type { Sql } from "@altalune/db";
import { isApiScope } from "@altalune/rpc";

/**
 * Machine-to-machine clients (the client_credentials grant): the token's principal is the client
 * itself. What it may do is what an administrator granted it through OAuthClientService, read
 * fresh at every issuance: the API scopes in its allowed_scopes and the projects it was given.
 */
export interface ClientGrants {
  /** API scopes (system permissions), sorted. */
  scopes: string[];
  /** Project public ids, sorted. */
  projects: string[];
}

/** undefined: no such confidential client any more (deleted since the provider cached it). */
export async function loadClientGrants(sql: Sql, clientId: string): Promise<ClientGrants | undefined> {
  const [row] = await sql<{ allowed_scopes: string[]; projects: string[] }[]>`
    select c.allowed_scopes,
           array(select p.public_id from altalune_oauth_client_projects cp
                 join altalune_projects p on p.id = cp.project_id
                 where cp.client_id = c.id order by p.public_id) as projects
    from altalune_oauth_clients c
    where c.client_id = ${clientId.toLowerCase()} and c.confidential`;
  if (!row) return undefined;
  return { scopes: row.allowed_scopes.filter(isApiScope).sort(), projects: row.projects };
}

/**
 * The claims of a client_credentials access token. `perms` are the API scopes asked for that the
 * client holds now; a request naming none gets every scope the client holds (RFC 6749 §3.3 lets
 * the server define the default). `sub` and `client_id` (set by the provider) are the client id.
 */
export function clientTokenClaims(grants: ClientGrants, requested: ReadonlySet<string>): Record<string, unknown> {
  const asked = [...requested].filter(isApiScope);
  const perms = asked.length === 0 ? grants.scopes : grants.scopes.filter((s) => requested.has(s));
  return { principal: "client", perms, projects: grants.projects };
}
