import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator, violationsToProto, type Violation } from "@bufbuild/protovalidate";
import { Code, ConnectError } from "@connectrpc/connect";
import { CommonCodes } from "@altalune/core";
import { errorDetail } from "./errors.js";

const validator = createValidator();

function fieldOf(v: Violation): string {
  return v.field.length > 0 ? pathToString(v.field) : "(message)";
}

/**
 * Validates a request against the buf.validate rules of its proto. A violation becomes
 * InvalidArgument naming each field and the violated rule, with two details: the standard
 * buf.validate.Violations, and ErrorDetail{code 60001, meta: field → rule id}.
 */
export function validateRequest<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void {
  const result = validator.validate(schema, message);
  if (result.kind === "valid") return;
  if (result.kind === "error") {
    // A rule that cannot be evaluated is a bug in our protos, not the caller's mistake.
    throw result.error;
  }
  const violations = result.error.violations;
  const text = violations.map((v) => `${fieldOf(v)}: ${v.message} [${v.ruleId}]`).join("; ");
  const meta = Object.fromEntries(violations.map((v) => [fieldOf(v), v.ruleId]));
  const [proto, desc] = violationsToProto(violations);
  throw new ConnectError(`invalid request: ${text}`, Code.InvalidArgument, undefined, [
    { desc, value: proto },
    errorDetail(CommonCodes.InvalidPayload, meta),
  ]);
}
