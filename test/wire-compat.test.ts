// Binary (gRPC, Connect binary) clients built from the original system's stubs read fields by
// number. These messages are described here by hand with the original's numbers (no code of the
// original is used), and our generated messages must round-trip through them (issue 16).
import { describe, expect, it } from "vitest";
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  file_google_protobuf_timestamp,
  FileDescriptorProtoSchema,
  timestampFromDate,
  timestampDate,
  type Timestamp,
} from "@bufbuild/protobuf/wkt";
import { EmployeeSchema, EmployeeStatus, OAuthProviderSchema, ProjectSchema, ProviderType } from "../packages/proto/src/index.js";

const T = FieldDescriptorProto_Type;
const optional = FieldDescriptorProto_Label.OPTIONAL;
const str = (name: string, number: number) => ({ name, number, type: T.STRING, label: optional, jsonName: camel(name) });
const bool = (name: string, number: number) => ({ name, number, type: T.BOOL, label: optional, jsonName: camel(name) });
const int = (name: string, number: number) => ({ name, number, type: T.INT32, label: optional, jsonName: camel(name) });
const ts = (name: string, number: number) => ({ name, number, type: T.MESSAGE, typeName: ".google.protobuf.Timestamp", label: optional, jsonName: camel(name) });
function camel(s: string): string {
  return s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The original's Project, Employee and OAuthProvider, field numbers as in hrz8/buf-starter. */
const original = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "original/altalune.proto",
    package: "original",
    syntax: "proto3",
    dependency: ["google/protobuf/timestamp.proto"],
    messageType: [
      {
        name: "Project",
        field: [str("id", 1), str("name", 2), str("description", 3), str("timezone", 4), str("environment", 5), bool("is_default", 6), ts("created_at", 7), ts("updated_at", 8)],
      },
      {
        name: "Employee",
        field: [str("id", 1), str("name", 2), str("email", 3), str("role", 4), str("department", 5), int("status", 6), ts("created_at", 7), ts("updated_at", 8)],
      },
      {
        name: "OAuthProvider",
        field: [str("id", 1), int("provider_type", 2), str("client_id", 3), bool("client_secret_set", 4), str("redirect_url", 5), str("scopes", 6), bool("enabled", 7), ts("created_at", 98), ts("updated_at", 99)],
      },
    ],
  }),
  (name) => (name === "google/protobuf/timestamp.proto" ? file_google_protobuf_timestamp : undefined),
);
const originalMessage = (name: string): DescMessage => {
  const m = original.getMessage(`original.${name}`);
  if (m === undefined) throw new Error(`no original.${name}`);
  return m;
};

const created = new Date("2024-03-01T10:00:00.123Z");
const updated = new Date("2025-06-30T23:59:59.5Z");
const timesOf = (m: Record<string, unknown>) => ({
  createdAt: timestampDate(m["createdAt"] as Timestamp).toISOString(),
  updatedAt: timestampDate(m["updatedAt"] as Timestamp).toISOString(),
});

describe("binary compatibility with the original's stubs", () => {
  it.each([
    ["Project", ProjectSchema],
    ["Employee", EmployeeSchema],
  ] as const)("%s: created_at and updated_at are fields 7 and 8", (_name, schema) => {
    expect(schema.fields.find((f) => f.name === "created_at")?.number).toBe(7);
    expect(schema.fields.find((f) => f.name === "updated_at")?.number).toBe(8);
  });

  it("a Project we encode decodes with the original's numbers, and back", () => {
    const ours = create(ProjectSchema, {
      id: "p1234567890abc",
      name: "Demo",
      description: "d",
      timezone: "UTC",
      environment: "live",
      isDefault: true,
      createdAt: timestampFromDate(created),
      updatedAt: timestampFromDate(updated),
    });
    const theirs = fromBinary(originalMessage("Project"), toBinary(ProjectSchema, ours)) as unknown as Record<string, unknown>;
    expect(theirs).toMatchObject({ id: "p1234567890abc", name: "Demo", environment: "live", isDefault: true });
    expect(timesOf(theirs)).toEqual({ createdAt: created.toISOString(), updatedAt: updated.toISOString() });
    const back = fromBinary(ProjectSchema, toBinary(originalMessage("Project"), theirs as never));
    expect(back).toEqual(ours);
  });

  it("an Employee we encode decodes with the original's numbers, and back", () => {
    const ours = create(EmployeeSchema, {
      id: "e1234567890abc",
      name: "Ada",
      email: "ada@example.com",
      role: "Engineer",
      department: "R&D",
      status: EmployeeStatus.ACTIVE,
      createdAt: timestampFromDate(created),
      updatedAt: timestampFromDate(updated),
    });
    const theirs = fromBinary(originalMessage("Employee"), toBinary(EmployeeSchema, ours)) as unknown as Record<string, unknown>;
    expect(theirs).toMatchObject({ id: "e1234567890abc", email: "ada@example.com", status: EmployeeStatus.ACTIVE });
    expect(timesOf(theirs)).toEqual({ createdAt: created.toISOString(), updatedAt: updated.toISOString() });
    expect(fromBinary(EmployeeSchema, toBinary(originalMessage("Employee"), theirs as never))).toEqual(ours);
  });

  it("an OAuthProvider's scopes are one string at field 6, as the original reads them", () => {
    const ours = create(OAuthProviderSchema, {
      id: "o1234567890abc",
      providerType: ProviderType.GITHUB,
      clientId: "Iv1",
      clientSecretSet: true,
      redirectUrl: "http://localhost:3300/login/github/callback",
      scopes: "read:org,read:user,user:email",
      enabled: true,
      slug: "github",
      createdAt: timestampFromDate(created),
      updatedAt: timestampFromDate(updated),
    });
    const theirs = fromBinary(originalMessage("OAuthProvider"), toBinary(OAuthProviderSchema, ours)) as unknown as Record<string, unknown>;
    expect(theirs).toMatchObject({ scopes: "read:org,read:user,user:email", enabled: true, providerType: ProviderType.GITHUB, redirectUrl: ours.redirectUrl });
    expect(timesOf(theirs)).toEqual({ createdAt: created.toISOString(), updatedAt: updated.toISOString() });
  });
});
