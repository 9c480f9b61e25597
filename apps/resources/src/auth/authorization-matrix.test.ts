import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import * as api from "@altalune/proto";
import { AuthRuleSchema } from "@altalune/proto";
import { API_SCOPES, authRuleOf, permissionsOfRule, type AuthRule } from "@altalune/rpc";
import { startTestApi, type TestApi, type TransportName } from "../testing/api-harness.js";
import { randomUUID } from "node:crypto";
import { newPublicId } from "@altalune/core";
import { DOMAIN_SERVICES } from "../domains.js";
import { decide } from "./authorizer.js";

// The authorization matrix: every RPC of every registered domain (domains.ts, which
// domains.test.ts holds to every service in the API's descriptors), called as every kind of caller
// over the Connect port and the grpc-js port. The expected cell follows from the method's declared
// rule alone, so a new domain, a new RPC or a changed rule is covered without editing this file.
// "ok" means the call got past authorization (whatever the service then answered).

const services = DOMAIN_SERVICES;

const IDENTITIES = [
  "anonymous",
  "no-permission",
  "permission-not-member",
  "member-with-permission",
  "root",
  "expired-token",
  "unknown-signing-key",
  "other-audience",
  "api-key-same-project",
  "api-key-other-project",
  "api-key-deactivated",
  "m2m-with-scope-and-project",
  "m2m-without-scope",
  "m2m-other-project",
] as const;
type Identity = (typeof IDENTITIES)[number];
type Outcome = "ok" | "Unauthenticated" | "PermissionDenied";

const PORTS: readonly TransportName[] = ["connect-binary", "grpc-js"];

const permissionsOf = permissionsOfRule;

/** The expected outcome, written from the rule's meaning (not by calling the authorizer). */
function expected(rule: AuthRule, who: Identity): Outcome {
  if (rule.public) return "ok";
  switch (who) {
    case "anonymous":
    case "expired-token":
    case "unknown-signing-key":
    case "other-audience":
    case "api-key-deactivated":
      return "Unauthenticated";
    // Machine clients (client_credentials) are judged like users: their granted scopes are their
    // permissions, their projects stand in for memberships.
    case "root":
    case "member-with-permission":
    case "m2m-with-scope-and-project":
      return "ok";
    case "no-permission":
    case "m2m-without-scope":
      return rule.authenticated ? "ok" : "PermissionDenied";
    case "permission-not-member":
    case "m2m-other-project":
      return rule.projectScoped ? "PermissionDenied" : "ok";
    case "api-key-same-project":
      // Admitted by the rule's api_key (which ruleProblems allows only with project_scoped).
      return rule.apiKey && rule.projectScoped ? "ok" : "PermissionDenied";
    case "api-key-other-project":
      return "PermissionDenied";
  }
}

function outcomeOf(e: unknown): Outcome | string {
  if (e === undefined) return "ok";
  const code = ConnectError.from(e).code;
  if (code === Code.Unauthenticated) return "Unauthenticated";
  if (code === Code.PermissionDenied) return "PermissionDenied";
  // Past authorization: validation, not found, etc. all mean the auth step let it through.
  if (code === Code.Unimplemented || code === Code.Internal || code === Code.Unavailable) return `broken:${Code[code]}`;
  return "ok";
}

let t: TestApi;
let otherProjectId: string;
const keys: Record<"same" | "other" | "deactivated", string> = { same: "", other: "", deactivated: "" };
const users: Record<"member" | "outsider", string> = { member: "", outsider: "" };
/** Machine clients as OAuthClientService stores them (the per-call client-state check reads these rows). */
const m2m: Record<"scoped" | "unscoped" | "elsewhere", string> = { scoped: "", unscoped: "", elsewhere: "" };

async function insertMachineClient(scopes: readonly string[], projectId: string): Promise<string> {
  const clientId = randomUUID();
  // Never opened here: the matrix signs the client's tokens itself.
  const [row] = await t.db.sql<{ id: string }[]>`
    insert into altalune_oauth_clients (public_id, name, client_id, client_secret_sealed, redirect_uris, allowed_scopes, confidential)
    values (${newPublicId()}, 'matrix m2m', ${clientId}, 'v1.unused', '{https://m2m.example.test/cb}', ${[...scopes]}::text[], true)
    returning id`;
  await t.db.sql`
    insert into altalune_oauth_client_projects (client_id, project_id)
    select ${row!.id}, id from altalune_projects where public_id = ${projectId}`;
  return clientId;
}

beforeAll(async () => {
  t = await startTestApi();
  const projects = t.client(api.ProjectService, "connect-json");
  const other = await projects.createProject({ name: "Matrix other", timezone: "UTC", environment: "sandbox" });
  otherProjectId = other.project!.id;

  const userClient = t.client(api.UserService, "connect-json");
  for (const who of ["member", "outsider"] as const) {
    const created = await userClient.createUser({ email: `${who}@matrix.test`, firstName: who, lastName: "Matrix" });
    users[who] = created.user!.id;
  }
  await t.client(api.IAMMapperService, "connect-json").assignProjectMembers({
    projectId: t.defaultProjectId,
    members: [{ userId: users.member, role: "member" }],
  });

  const apiKeys = t.client(api.ApiKeyService, "connect-json");
  const expiration = { seconds: BigInt(Math.floor(Date.now() / 1000) + 30 * 86400), nanos: 0 };
  const mk = async (projectId: string, name: string) => apiKeys.createApiKey({ projectId, name, expiration });
  keys.same = (await mk(t.defaultProjectId, "matrix same")).keyValue;
  keys.other = (await mk(otherProjectId, "matrix other")).keyValue;
  const deactivated = await mk(t.defaultProjectId, "matrix deactivated");
  await apiKeys.deactivateApiKey({ projectId: t.defaultProjectId, apiKeyId: deactivated.apiKey!.id });
  keys.deactivated = deactivated.keyValue;

  m2m.scoped = await insertMachineClient(API_SCOPES, t.defaultProjectId);
  m2m.unscoped = await insertMachineClient([], t.defaultProjectId);
  m2m.elsewhere = await insertMachineClient(API_SCOPES, otherProjectId);
});

afterAll(async () => {
  await t?.close();
});

const tokenCache = new Map<string, Promise<string | null>>();

function credentialFor(who: Identity, rule: AuthRule): Promise<string | null> {
  const perms = permissionsOf(rule);
  const cacheKey = `${who}|${perms.join(",")}`;
  let found = tokenCache.get(cacheKey);
  if (found !== undefined) return found;
  const memberOf = { [t.defaultProjectId]: "member" };
  const withPerms = { sub: users.member, perms, memberships: memberOf };
  const issue: Record<Identity, () => Promise<string | null>> = {
    anonymous: async () => null,
    "no-permission": () => t.token({ sub: users.member, perms: [], memberships: memberOf }),
    "permission-not-member": () => t.token({ sub: users.outsider, perms, memberships: {} }),
    "member-with-permission": () => t.token(withPerms),
    root: async () => t.rootToken,
    "expired-token": () => t.token({ ...withPerms, expiresIn: -120 }),
    "unknown-signing-key": () => t.token({ ...withPerms, key: "unpublished" }),
    "other-audience": () => t.token({ ...withPerms, audience: "urn:someone-else" }),
    "api-key-same-project": async () => keys.same,
    "api-key-other-project": async () => keys.other,
    "api-key-deactivated": async () => keys.deactivated,
    "m2m-with-scope-and-project": () => clientToken(m2m.scoped, perms, t.defaultProjectId),
    "m2m-without-scope": () => clientToken(m2m.unscoped, [], t.defaultProjectId),
    "m2m-other-project": () => clientToken(m2m.elsewhere, perms, otherProjectId),
  };
  found = issue[who]();
  tokenCache.set(cacheKey, found);
  return found;
}

/** A client_credentials token as the auth server issues it (machine-clients.ts). */
function clientToken(clientId: string, perms: string[], projectId: string): Promise<string> {
  return t.token({ sub: clientId, clientId, perms, extraClaims: { principal: "client", projects: [projectId] } });
}

/** A request that names the default project (and, for self rules, a user who is not the caller). */
function requestFor(method: DescMethod, rule: AuthRule) {
  const init: Record<string, unknown> = {};
  for (const field of method.input.fields) {
    if (field.name === "project_id") init[field.localName] = t.defaultProjectId;
    if (rule.selfField !== "" && field.name === rule.selfField) init[field.localName] = t.superadmin.publicId;
  }
  return create(method.input, init as never);
}

type AnyCall = (request: unknown, options?: { headers?: Record<string, string> }) => Promise<unknown>;

describe("authorization matrix", () => {
  it("gives every RPC × identity × port the outcome its rule implies, the same on both ports", async () => {
    const rows: string[] = [];
    const unexpected: string[] = [];
    let cells = 0;
    for (const service of services) {
      const clients = Object.fromEntries(PORTS.map((p) => [p, t.client(service, p, { token: null })])) as unknown as Record<
        TransportName,
        Record<string, AnyCall>
      >;
      for (const method of service.methods) {
        const rule = authRuleOf(method);
        expect(rule, `${service.typeName}/${method.name} has no rule`).toBeDefined();
        if (rule === undefined) continue;
        const request = requestFor(method, rule);
        const cellsOfRow: string[] = [];
        for (const who of IDENTITIES) {
          const credential = await credentialFor(who, rule);
          const headers: Record<string, string> = credential === null ? {} : { authorization: `Bearer ${credential}` };
          const want = expected(rule, who);
          const got: Partial<Record<TransportName, string>> = {};
          for (const port of PORTS) {
            const call = clients[port]?.[method.localName];
            if (call === undefined) throw new Error(`no client method ${method.localName}`);
            got[port] = outcomeOf(await call(request, { headers }).then(() => undefined, (e: unknown) => e));
            cells++;
            if (got[port] !== want) unexpected.push(`${service.name}/${method.name} as ${who} over ${port}: expected ${want}, got ${got[port]}`);
          }
          cellsOfRow.push(got["connect-binary"] === got["grpc-js"] ? short(got["grpc-js"]) : `${short(got["connect-binary"])}/${short(got["grpc-js"])}`);
        }
        rows.push(`${`${service.name}/${method.name}`.padEnd(52)} ${cellsOfRow.map((c) => c.padEnd(3)).join(" ")}`);
      }
    }
    const header = `${"RPC (cells: connect-binary = grpc-js)".padEnd(52)} ${IDENTITIES.map((_, i) => `i${i}`.padEnd(3)).join(" ")}`;
    const legend = IDENTITIES.map((id, i) => `i${i}=${id}`).join("  ");
    console.log(`\n${header}\n${rows.join("\n")}\n${legend}\nok=past authorization, 401=Unauthenticated, 403=PermissionDenied; ${cells} calls\n`);
    expect(unexpected).toEqual([]);
    expect(cells).toBeGreaterThan(services.reduce((n, s) => n + s.methods.length, 0) * IDENTITIES.length);
  });
});

describe("API keys are admitted by the rule, not by the permissions they carry", () => {
  const method = api.EmployeeService.method.queryEmployees;
  // A key of the request's project carrying the rule's permission.
  const key = { kind: "api_key", keyPublicId: "k", projectPublicId: "p", permissions: new Set(["employee:read"]) } as const;
  const request = create(method.input, { projectId: "p" } as never);
  it("refuses a key on a project-scoped rule naming a permission it carries but without api_key", () => {
    const rule = create(AuthRuleSchema, { permission: "employee:read", projectScoped: true });
    expect(() => decide(rule, method, request, key)).toThrow(/requires employee:read/);
    expect(() => decide({ ...rule, apiKey: true }, method, request, key)).not.toThrow();
  });
});

function short(outcome: string | undefined): string {
  if (outcome === "Unauthenticated") return "401";
  if (outcome === "PermissionDenied") return "403";
  return outcome ?? "?";
}
