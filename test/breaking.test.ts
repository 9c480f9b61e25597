// The contract guard itself (scripts/check-breaking.sh, which `pnpm test` runs on the tree): it
// fails on a copy of the protos with a change that breaks clients of the baseline, not on an addition.
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const script = join(root, "scripts/check-breaking.sh");

/** Exit code and output of the guard on a workspace (a directory with buf.yaml and proto/). */
async function guard(workspace: string): Promise<{ code: number; output: string }> {
  try {
    const r = await run("bash", [script, workspace]);
    return { code: 0, output: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, output: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

describe("buf breaking against proto-baseline/altalune.binpb", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "altalune-breaking-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A copy of the workspace with one proto file edited. */
  async function workspaceWith(name: string, file: string, edit: (text: string) => string): Promise<string> {
    const ws = join(dir, name);
    await cp(join(root, "buf.yaml"), join(ws, "buf.yaml"));
    await cp(join(root, "proto"), join(ws, "proto"), { recursive: true });
    const path = join(ws, "proto", file);
    const before = await readFile(path, "utf8");
    const after = edit(before);
    expect(after).not.toBe(before);
    await writeFile(path, after);
    return ws;
  }

  it.each([
    ["Project.created_at renumbered", "altalune/v1/project.proto", (t: string) => t.replace("created_at = 7;", "created_at = 97;"), 'field "7" with name "created_at"'],
    ["OAuthProvider.scopes made a list", "altalune/v1/oauth_provider.proto", (t: string) => t.replace("  string scopes = 6;", "  repeated string scopes = 6;"), 'Field "6" with name "scopes"'],
  ])("refuses %s", async (name, file, edit, message) => {
    const result = await guard(await workspaceWith(name.replace(/\W+/g, "-"), file, edit));
    expect(result.code).toBe(1);
    expect(result.output).toContain(message);
    expect(result.output).toContain("update the baseline deliberately");
  });

  it("allows an addition", async () => {
    const ws = await workspaceWith("addition", "altalune/v1/project.proto", (t) => t.replace("  bool is_default = 6;", "  bool is_default = 6;\n  string color = 9;"));
    expect((await guard(ws)).code).toBe(0);
  });
});
