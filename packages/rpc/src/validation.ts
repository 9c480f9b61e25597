import { ScalarType, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { isReflectMessage, pathToString, reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { createValidator, violationsToProto, type Violation } from "@bufbuild/protovalidate";
import { Code, ConnectError } from "@connectrpc/connect";
import { CommonCodes } from "@altalune/core";
import { errorDetail } from "./errors.js";

const validator = createValidator();

function fieldOf(v: Violation): string {
  return v.field.length > 0 ? pathToString(v.field) : "(message)";
}

const NUL = "\0";
const hasNul = (value: unknown): boolean => typeof value === "string" && value.includes(NUL);

/** The path of the first string (field, list item, map key or value) holding a NUL character. */
function firstNul(message: ReflectMessage, path: string): string | undefined {
  for (const field of message.fields) {
    if (!message.isSet(field)) continue;
    const at = path === "" ? field.name : `${path}.${field.name}`;
    switch (field.fieldKind) {
      case "scalar":
        if (field.scalar === ScalarType.STRING && hasNul(message.get(field))) return at;
        break;
      case "message": {
        const found = firstNul(message.get(field), at);
        if (found !== undefined) return found;
        break;
      }
      case "list": {
        let index = 0;
        for (const item of message.get(field)) {
          const found = isReflectMessage(item) ? firstNul(item, `${at}[${index}]`) : hasNul(item) ? `${at}[${index}]` : undefined;
          if (found !== undefined) return found;
          index++;
        }
        break;
      }
      case "map":
        for (const [key, value] of message.get(field)) {
          if (hasNul(key)) return `${at}[key]`;
          const found = isReflectMessage(value) ? firstNul(value, `${at}[${String(key)}]`) : hasNul(value) ? `${at}[${String(key)}]` : undefined;
          if (found !== undefined) return found;
        }
        break;
      case "enum":
        break;
    }
  }
  return undefined;
}

/**
 * Validates a request against the buf.validate rules of its proto. A violation becomes
 * InvalidArgument naming each field and the violated rule, with two details: the standard
 * buf.validate.Violations, and ErrorDetail{code 60001, meta: field → rule id}.
 */
export function validateRequest<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void {
  const result = validator.validate(schema, message);
  if (result.kind === "valid") {
    // PostgreSQL cannot store NUL in text: refused here as the caller's mistake, for every RPC,
    // instead of surfacing as a database error (Internal) deep in a repo.
    const nulAt = firstNul(reflect(schema, message), "");
    if (nulAt !== undefined) {
      throw new ConnectError(`invalid request: ${nulAt}: must not contain NUL characters [string.no_nul]`, Code.InvalidArgument, undefined, [
        errorDetail(CommonCodes.InvalidPayload, { [nulAt]: "string.no_nul" }),
      ]);
    }
    return;
  }
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
