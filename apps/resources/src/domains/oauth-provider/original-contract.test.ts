// The OAuth providers page of the original system's dashboard (issue 16): its requests as it puts
// them on the wire (Connect JSON, proto3 JSON of the original's stubs: `scopes` one string,
// `enabled: false` omitted, `redirect_url` always sent), against a real API on its own database.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApi, type TestApi } from "../../testing/api-harness.js";
import { listEnabledProviders } from "@altalune/oauth-tables";

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

interface WireProvider {
  id: string;
  providerType: string;
  clientId: string;
  clientSecretSet: boolean;
  redirectUrl: string;
  scopes: string;
  enabled?: boolean;
}
interface WireError {
  code: string;
  message: string;
}

/** One unary call with the JSON body the original dashboard sends (connect-web, JSON format). */
async function call(method: string, body: object): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${api.baseUrl}/altalune.v1.OAuthProviderService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1", authorization: `Bearer ${api.rootToken}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
async function ok(method: string, body: object): Promise<Record<string, unknown>> {
  const r = await call(method, body);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json;
}
const providerOf = (json: Record<string, unknown>) => json["provider"] as WireProvider;
const callback = (slug: string) => `${api.config.auth.issuer.replace(/\/+$/, "")}/login/${slug}/callback`;
const stored = async (id: string) =>
  (await api.db.sql<{ scopes: string[]; enabled: boolean; client_id: string; t: string }[]>`
    select scopes, enabled, client_id, t::text as t from altalune_oauth_providers t where public_id = ${id}`)[0]!;

/** The edit form's request: every field read back from the provider, the secret left empty. */
const editForm = (p: WireProvider) => ({
  id: p.id,
  clientId: p.clientId,
  clientSecret: "",
  redirectUrl: p.redirectUrl,
  scopes: p.scopes,
  // proto3 JSON (protobuf-es toJson) leaves out a false bool: the original's client sends no key.
  ...(p.enabled === true ? { enabled: true } : {}),
});

describe("the original dashboard's OAuth providers page", () => {
  let google: WireProvider;

  it("creates with a comma-separated scope string (trimmed, stored as a list) and the callback URL as redirect_url", async () => {
    const json = await ok("CreateOAuthProvider", {
      providerType: "PROVIDER_TYPE_GOOGLE",
      clientId: "google-client.apps",
      clientSecret: "google-secret-0123",
      redirectUrl: callback("google"),
      scopes: "openid, email ,profile",
      enabled: true,
    });
    google = providerOf(json);
    expect(google).toMatchObject({ providerType: "PROVIDER_TYPE_GOOGLE", scopes: "openid,email,profile", enabled: true, redirectUrl: callback("google"), clientSecretSet: true });
    expect((await stored(google.id)).scopes).toEqual(["openid", "email", "profile"]);
    // Query and Get answer with one string too: what the original client decodes.
    const listed = await ok("QueryOAuthProviders", { query: { pagination: { page: 1, pageSize: 10 } } });
    expect((listed["data"] as WireProvider[]).map((p) => p.scopes)).toEqual(["openid,email,profile"]);
    expect(providerOf(await ok("GetOAuthProvider", { id: google.id })).scopes).toBe("openid,email,profile");
  });

  it("the edit form sent back unchanged is accepted and changes nothing", async () => {
    const before = await stored(google.id);
    const updated = providerOf(await ok("UpdateOAuthProvider", editForm(google)));
    expect(updated).toMatchObject({ scopes: google.scopes, enabled: true, clientId: google.clientId, redirectUrl: google.redirectUrl });
    const after = await stored(google.id);
    expect({ ...after, t: undefined }).toEqual({ ...before, t: undefined });
  });

  it("enabled: false (no key on the wire) disables the provider", async () => {
    const body = editForm({ ...google, enabled: false });
    expect(JSON.stringify(body)).not.toContain("enabled");
    const updated = providerOf(await ok("UpdateOAuthProvider", body));
    expect(updated.enabled ?? false).toBe(false);
    expect((await stored(google.id)).enabled).toBe(false);
    expect((await listEnabledProviders(api.db.sql)).map((p) => p.slug)).not.toContain("google");
  });

  it("scopes are set to what is sent; an empty string means no extra scopes", async () => {
    const github = providerOf(
      await ok("CreateOAuthProvider", {
        providerType: "PROVIDER_TYPE_GITHUB",
        clientId: "Iv1.gh",
        clientSecret: "gh-secret-0123",
        redirectUrl: callback("github"),
        scopes: "read:org",
        enabled: true,
      }),
    );
    // Sign-in needs GitHub's user and verified e-mails: the base scopes follow the sent ones.
    expect(github.scopes).toBe("read:org,read:user,user:email");
    const cleared = providerOf(await ok("UpdateOAuthProvider", { ...editForm(github), scopes: "" }));
    expect(cleared.scopes).toBe("read:user,user:email");
    expect((await stored(github.id)).scopes).toEqual(["read:user", "user:email"]);
  });

  it("an update without client_id is InvalidArgument (the update sets it), nothing changes", async () => {
    const before = await stored(google.id);
    const { clientId: _omitted, ...withoutClientId } = editForm(google);
    const r = await call("UpdateOAuthProvider", withoutClientId);
    expect(r.status).toBe(400);
    expect(r.json as unknown as WireError).toMatchObject({ code: "invalid_argument" });
    expect(await stored(google.id)).toEqual(before);
  });

  it("a redirect_url other than the server's callback is InvalidArgument naming the expected URL, nothing changes", async () => {
    const rows = () => api.db.sql`select t::text from altalune_oauth_providers t order by id`;
    const before = await rows();
    const refusedCreate = await call("CreateOAuthProvider", {
      providerType: "PROVIDER_TYPE_MICROSOFT",
      clientId: "ms",
      clientSecret: "ms-secret-0123",
      redirectUrl: "http://localhost:3000/auth/microsoft/callback",
      scopes: "openid,email,profile",
      enabled: true,
    });
    expect(refusedCreate.status).toBe(400);
    expect(refusedCreate.json as unknown as WireError).toMatchObject({
      code: "invalid_argument",
      message: `redirect_url must be ${callback("microsoft")}: this server serves the provider's callback there (register that URL with the provider), not at http://localhost:3000/auth/microsoft/callback`,
    });
    const refusedUpdate = await call("UpdateOAuthProvider", { ...editForm(google), enabled: true, redirectUrl: callback("github") });
    expect(refusedUpdate.status).toBe(400);
    expect((refusedUpdate.json as unknown as WireError).message).toContain(`redirect_url must be ${callback("google")}`);
    expect(await rows()).toEqual(before);
    // The expected URL, with surrounding white space, or none at all: accepted.
    expect(providerOf(await ok("UpdateOAuthProvider", { ...editForm(google), redirectUrl: ` ${callback("google")} ` })).redirectUrl).toBe(callback("google"));
    expect(providerOf(await ok("UpdateOAuthProvider", { ...editForm(google), redirectUrl: "" })).redirectUrl).toBe(callback("google"));
  });
});
