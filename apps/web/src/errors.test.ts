import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CreateEmployeeRequestSchema, EmployeeStatus } from "@altalune/proto";
import { errorDetail, validateRequest } from "@altalune/rpc";
import { BffError } from "../app/bff.js";
import { describeError, fieldErrors } from "../app/errors.js";

// The web client's error texts, from errors built by the server's own code (validateRequest,
// errorDetail), so a change in what the server attaches shows up here.

function violationOf(fields: Partial<{ name: string; email: string; role: string; department: string; status: EmployeeStatus }>): unknown {
  const request = create(CreateEmployeeRequestSchema, {
    projectId: "abcdefghijklmn",
    name: "Ada Lovelace",
    email: "ada@example.test",
    role: "Engineer",
    department: "Compilers",
    status: EmployeeStatus.ACTIVE,
    ...fields,
  });
  try {
    validateRequest(CreateEmployeeRequestSchema, request);
  } catch (e) {
    return e;
  }
  throw new Error("expected a violation");
}

describe("web client error texts", () => {
  it("puts each buf.validate violation next to its field", () => {
    expect(fieldErrors(violationOf({ name: "R2-D2", email: "nope", status: EmployeeStatus.UNSPECIFIED }))).toEqual({
      name: "Contains characters that are not allowed.",
      email: "Enter a valid email address.",
      status: "Choose a value.",
    });
    expect(fieldErrors(violationOf({ role: "x" }))).toEqual({ role: "Too short." });
  });

  it("names the field of a conflict the server reports by code", () => {
    const taken = new ConnectError("employee email taken", Code.AlreadyExists, undefined, [errorDetail("60202", { email: "ada@example.test" })]);
    expect(fieldErrors(taken)).toEqual({ email: "An employee with this email already exists in this project." });
    expect(describeError(taken)).toBe("An employee with this email already exists in this project.");
  });

  it("never shows a raw code: known codes, then the Connect code, then a generic sentence", () => {
    const texts = [
      describeError(new ConnectError("x", Code.PermissionDenied, undefined, [errorDetail("60011", { reason: "permission" })])),
      describeError(new ConnectError("x", Code.Unavailable, undefined, [errorDetail("60014", { reason: "unreachable" })])),
      describeError(new ConnectError("x", Code.FailedPrecondition, undefined, [errorDetail("69999", {})])),
      describeError(new ConnectError("x", Code.Internal)),
      describeError(new BffError(503, "urn:altalune:bff:temporarily_unavailable", "down", 2)),
      describeError(new BffError(401, "urn:altalune:bff:refresh_failed", "refused", undefined)),
    ];
    expect(texts).toEqual([
      "You do not have permission to do this.",
      "The service is temporarily unavailable. Try again in a moment.",
      "This cannot be done in the current state.",
      "Something went wrong. Try again.",
      "The sign-in service is temporarily unavailable. Try again in a moment.",
      "Your session has ended. Please sign in again.",
    ]);
    for (const t of texts) expect(t).not.toMatch(/\d{5}|urn:/);
  });
});
