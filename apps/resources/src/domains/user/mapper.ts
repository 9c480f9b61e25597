import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  UserIdentitySchema,
  UserSchema,
  type User as UserMessage,
  type UserIdentity as UserIdentityMessage,
} from "@altalune/proto";
import { emptyWhenAbsent } from "../../shared/absent-text.js";
import type { User, UserIdentity } from "./model.js";

export interface UserRow {
  id: string;
  public_id: string;
  email: string;
  first_name: string;
  last_name: string;
  is_active: boolean;
  email_verified: boolean;
  activated_at: Date | null;
  pending_email: string | null;
  created_at: Date;
  updated_at: Date;
}

export const userColumns = [
  "id",
  "public_id",
  "email",
  "first_name",
  "last_name",
  "is_active",
  "email_verified",
  "activated_at",
  "pending_email",
  "created_at",
  "updated_at",
] as const;

export interface UserIdentityRow {
  public_id: string;
  provider: string;
  provider_user_id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  oauth_client_id: string | null;
  origin_oauth_client_name: string | null;
  last_login_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export const identityColumns = [
  "public_id",
  "provider",
  "provider_user_id",
  "email",
  "first_name",
  "last_name",
  "oauth_client_id",
  "origin_oauth_client_name",
  "last_login_at",
  "created_at",
  "updated_at",
] as const;

export function userFromRow(row: UserRow): User {
  return {
    id: row.id,
    publicId: row.public_id,
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    isActive: row.is_active,
    emailVerified: row.email_verified,
    activatedAt: row.activated_at ?? undefined,
    pendingEmail: row.pending_email ?? undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function identityFromRow(row: UserIdentityRow): UserIdentity {
  return {
    publicId: row.public_id,
    provider: row.provider,
    providerUserId: row.provider_user_id,
    // NULL where the provider gave none.
    ...emptyWhenAbsent({ email: row.email, firstName: row.first_name, lastName: row.last_name }),
    oauthClientId: row.oauth_client_id ?? undefined,
    originOAuthClientName: row.origin_oauth_client_name ?? undefined,
    lastLoginAt: row.last_login_at ?? undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function userToProto(u: User): UserMessage {
  return create(UserSchema, {
    id: u.publicId,
    email: u.email,
    firstName: u.firstName,
    lastName: u.lastName,
    isActive: u.isActive,
    emailVerified: u.emailVerified,
    ...(u.activatedAt ? { activatedAt: timestampFromDate(u.activatedAt) } : {}),
    ...(u.pendingEmail !== undefined ? { pendingEmail: u.pendingEmail } : {}),
    createdAt: timestampFromDate(u.createdAt),
    updatedAt: timestampFromDate(u.updatedAt),
  });
}

export function identityToProto(i: UserIdentity): UserIdentityMessage {
  return create(UserIdentitySchema, {
    publicId: i.publicId,
    provider: i.provider,
    providerUserId: i.providerUserId,
    email: i.email,
    firstName: i.firstName,
    lastName: i.lastName,
    ...(i.oauthClientId !== undefined ? { oauthClientId: i.oauthClientId } : {}),
    ...(i.originOAuthClientName !== undefined ? { originOauthClientName: i.originOAuthClientName } : {}),
    ...(i.lastLoginAt ? { lastLoginAt: timestampFromDate(i.lastLoginAt) } : {}),
    createdAt: timestampFromDate(i.createdAt),
    updatedAt: timestampFromDate(i.updatedAt),
  });
}
