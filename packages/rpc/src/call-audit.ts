import { isFieldSet, ScalarType, type DescField, type DescMethod, type DescService, type Message } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, createContextKey, type HandlerContext } from "@connectrpc/connect";
import { auditTraceId, SECURITY_TAG, type AuditEventRecord, type Logger } from "@altalune/core";
import type { AuthRule } from "./auth-rules.js";
import { toClientError } from "./errors.js";
import type { CallInfo } from "./pipeline.js";
import { principalOf, type Principal } from "./principal.js";

// The audit log of the RPCs (docs/observability.md, "Audit log"). What to write is derived from
// the descriptors, once per method: a method declared `idempotency_level = NO_SIDE_EFFECTS` is a
// read and is not audited unless its rule says `audit` (secret reveals); every other method is a
// mutation, and each call of it is one row. The row is written by the database layer in the
// change's own statement or transaction (packages/db/src/audit-scope.ts); this module says what
// the row holds and writes the rows no transaction carried.

/** A read: the method declares it has no side effects (Connect may then serve it by GET). */
export function isReadOnly(method: DescMethod): boolean {
  return method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
}

/** Every mutation, and the reads whose rule says `audit`. */
export function isAudited(method: DescMethod, rule: AuthRule): boolean {
  return !isReadOnly(method) || rule.audit;
}

const READ_NAME = /^(Get|List|Query|Reveal)[A-Z]/;

/**
 * The classification must be total and consistent: a method named like a read is declared one,
 * one declared a read is named like one, `audit` is only on reads, and a Reveal… (a secret handed
 * out) is audited. A unit test holds every RPC of the API to this.
 */
export function sideEffectProblems(method: DescMethod, rule: AuthRule): string[] {
  const name = `${method.parent.typeName}/${method.name}`;
  const read = isReadOnly(method);
  const problems: string[] = [];
  if (read && !READ_NAME.test(method.name)) problems.push(`${name}: declared NO_SIDE_EFFECTS but not named like a read (Get, List, Query, Reveal)`);
  if (!read && READ_NAME.test(method.name)) problems.push(`${name}: named like a read but not declared idempotency_level = NO_SIDE_EFFECTS`);
  if (rule.audit && !read) problems.push(`${name}: audit is for reads only (every mutation is audited)`);
  if (method.name.startsWith("Reveal") && !rule.audit) problems.push(`${name}: a Reveal… RPC hands out a secret: its rule must say audit`);
  return problems;
}

/**
 * The peer's address, set by the transport (a thunk: read only when a row is written). The
 * Connect port reads the socket, the grpc-js port the call's peer.
 */
export const peerAddressKey = createContextKey<(() => string | undefined) | undefined>(undefined);

/** The pending audit event of one call (packages/db/src/audit-scope.ts PendingAuditEvent). */
export interface PendingAudit {
  readonly written: boolean;
  /** Written in the change's own statement or transaction. */
  readonly withChange: boolean;
  run<T>(fn: () => Promise<T>): Promise<T>;
  record(): AuditEventRecord;
  /** Writes the row in its own statement unless it is written already. */
  writeSeparately(record?: AuditEventRecord): Promise<void>;
}

/** How a call's row went in: with the change, in its own statement, or not at all. */
export type AuditWrite = "with_change" | "separate" | "no";

export interface CallAuditorOptions {
  /** Opens the pending event of a call (packages/db callAuditEvents(sql)). */
  open: (describe: () => AuditEventRecord) => PendingAudit;
  logger: Pick<Logger, "warn">;
  /** Proxy hops trusted to append X-Forwarded-For (TRUSTED_PROXY_HOPS); 0: the peer's address. */
  trustedProxyHops?: number;
  /** Told of every audited call's result ("ok" or the Connect code's name) and its row (metrics). */
  observe?: (result: string, written: AuditWrite) => void;
}

/** What the descriptors say about one method's rows, computed once. */
interface MethodPlan {
  action: string;
  targetType: string;
  /** The request field naming the target; none for a create (the new id comes from the write). */
  targetField: DescField | undefined;
  projectField: DescField | undefined;
  /** Request fields whose names are recorded when set (not the target's or the project's). */
  recordedFields: readonly DescField[];
  /** Tags of a successful call (an audited read hands out a secret). */
  tags: readonly string[];
  /** Tags of a refused or failed call. */
  failureTags: readonly string[];
  /** An audited read: its answer hands out a secret. */
  revealsSecret: boolean;
}

const SECRET_REVEALED = "secret_revealed";

/** `OAuthClient` → `oauth_client`, `ApiKey` → `api_key`, `IAMMapper` → `iam_mapper` ("OAuth" is one word). */
function snakeCase(name: string): string {
  return (name.match(/OAuth|[A-Z]+(?![a-z])|[A-Z][a-z0-9]*|[a-z0-9]+/g) ?? [name]).map((w) => w.toLowerCase()).join("_");
}

/** `altalune.v1.OAuthClientService` → `oauth_client`. */
function entityOf(service: DescService): string {
  return snakeCase(service.name.replace(/Service$/, ""));
}

function isSingularString(field: DescField): boolean {
  return field.fieldKind === "scalar" && field.scalar === ScalarType.STRING;
}

function planOf(service: DescService, method: DescMethod, rule: AuthRule): MethodPlan {
  const fields = method.input.fields;
  const projectField = fields.find((f) => f.name === "project_id" && isSingularString(f));
  let targetField: DescField | undefined;
  let targetType = entityOf(service);
  if (!method.name.startsWith("Create")) {
    const byId = fields.find((f) => f.name === "id" && isSingularString(f));
    const named = fields.find((f) => f.name.endsWith("_id") && f.name !== "project_id" && isSingularString(f));
    if (byId !== undefined) targetField = byId;
    else if (named !== undefined) {
      targetField = named;
      targetType = named.name.slice(0, -"_id".length);
    } else if (projectField !== undefined) {
      targetField = projectField;
      targetType = "project";
    }
  }
  const recordedFields = fields.filter((f) => f !== targetField && f !== projectField);
  const revealed = isReadOnly(method) && rule.audit;
  return {
    action: `${service.typeName}/${method.name}`,
    targetType,
    targetField,
    projectField,
    recordedFields,
    tags: revealed ? [SECURITY_TAG, SECRET_REVEALED] : [],
    failureTags: revealed ? [SECURITY_TAG] : [],
    revealsSecret: revealed,
  };
}

function stringValue(request: Message, field: DescField | undefined): string | undefined {
  if (field === undefined) return undefined;
  const value = (request as unknown as Record<string, unknown>)[field.localName];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function actorOf(p: Principal | undefined): Pick<AuditEventRecord, "actorType" | "actorId"> {
  if (p === undefined) return { actorType: "anonymous" };
  switch (p.kind) {
    case "user":
      return { actorType: "user", actorId: p.userPublicId };
    case "api_key":
      return { actorType: "api_key", actorId: p.keyPublicId };
    case "client":
      return { actorType: "client", actorId: p.clientId };
  }
}

/** Koa's rule (as the auth server uses it): the leftmost of the entries the trusted hops appended. */
export function clientAddressOf(headers: Headers, peer: string | undefined, trustedHops: number): string | undefined {
  if (trustedHops <= 0) return peer;
  const forwarded = headers.get("x-forwarded-for");
  if (forwarded === null) return peer;
  const entries = forwarded
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return entries.slice(-trustedHops)[0] ?? peer;
}

/** Whether a refusal is written: not when the database is away (the write would fail too, and only delay the answer). */
const UNRECORDED_CODES = new Set<Code>([Code.Unavailable]);

/** Audits the calls of one method; made once per method by CallAuditor.forMethod. */
export class MethodAuditor {
  constructor(
    private readonly plan: MethodPlan,
    private readonly opts: CallAuditorOptions,
  ) {}

  /**
   * Runs the call's admission (auth step, validation) and then its handler with the call's event
   * pending. A successful call has exactly one row: written with the change, or (an audited read,
   * a mutation that wrote nothing) in its own statement before the answer leaves, so a secret is
   * not handed out unless its reveal is on record. A refused or failed call of an authenticated
   * caller gets its row with the Connect code; an anonymous one is only counted.
   */
  async call<T>(call: CallInfo, request: Message, ctx: HandlerContext, admit: () => Promise<void>, serve: () => Promise<T>): Promise<T> {
    const event = this.opts.open(() => this.describe(call, request, ctx));
    // A secret in the answer: no cache may keep it (Connect serves these reads by GET too).
    if (this.plan.revealsSecret) ctx.responseHeader.set("cache-control", "no-store");
    let response: T;
    try {
      await admit();
      response = await event.run(serve);
    } catch (e) {
      await this.recordFailure(event, call, ctx, e);
      throw e;
    }
    await event.writeSeparately();
    this.opts.observe?.("ok", event.withChange ? "with_change" : "separate");
    return response;
  }

  private async recordFailure(event: PendingAudit, call: CallInfo, ctx: HandlerContext, e: unknown): Promise<void> {
    const code = toClientError(e, call.requestId).error.code;
    const result = Code[code];
    // Committed before something later failed: the change happened, and its row says so.
    if (event.written) {
      this.opts.observe?.(result, "with_change");
      return;
    }
    if (principalOf(ctx) === undefined || UNRECORDED_CODES.has(code)) {
      this.opts.observe?.(result, "no");
      return;
    }
    try {
      await event.writeSeparately({ ...event.record(), result, tags: this.plan.failureTags });
      this.opts.observe?.(result, "separate");
    } catch (writeError) {
      this.opts.logger.warn(
        { err: writeError, requestId: call.requestId, action: this.plan.action, result },
        "the audit row of a refused call could not be written",
      );
      this.opts.observe?.(result, "no");
    }
  }

  private describe(call: CallInfo, request: Message, ctx: HandlerContext): AuditEventRecord {
    const plan = this.plan;
    const principal = principalOf(ctx);
    const targetId = stringValue(request, plan.targetField);
    const projectId = stringValue(request, plan.projectField) ?? (plan.targetType === "project" ? targetId : undefined);
    const headers = ctx.requestHeader;
    return {
      ...actorOf(principal),
      action: plan.action,
      targetType: plan.targetType,
      targetId,
      projectId,
      result: "ok",
      requestId: call.requestId,
      traceId: auditTraceId(headers.get("traceparent")),
      // X-Forwarded-For is only believed on the Connect port, behind the proxies TRUSTED_PROXY_HOPS
      // counts; on the native gRPC port any client can send that metadata.
      clientAddress: clientAddressOf(headers, ctx.values.get(peerAddressKey)?.(), call.transport === "grpc-js" ? 0 : (this.opts.trustedProxyHops ?? 0)),
      userAgent: headers.get("user-agent") ?? undefined,
      changedFields: plan.recordedFields.filter((f) => isFieldSet(request, f)).map((f) => f.name),
      tags: plan.tags,
    };
  }
}

/** The pipeline's audit step (PipelineOptions.audit). */
export class CallAuditor {
  constructor(private readonly opts: CallAuditorOptions) {}

  /** The method's auditor; undefined for a read that is not audited (nothing is done per call). */
  forMethod(service: DescService, method: DescMethod, rule: AuthRule): MethodAuditor | undefined {
    return isAudited(method, rule) ? new MethodAuditor(planOf(service, method, rule), this.opts) : undefined;
  }
}
