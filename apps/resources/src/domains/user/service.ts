import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type {
  ActivateUserRequest,
  CreateUserRequest,
  DeactivateUserRequest,
  DeleteUserRequest,
  GetUserRequest,
  QueryUsersRequest,
  UpdateUserRequest,
  UserService as UserServiceDesc,
} from "@altalune/proto";
import { invalidArgument } from "@altalune/core";
import { listQueryFromProto, queryMetaToProto } from "../../shared/query-mapper.js";
import { grantorOf, type Grantor } from "../iam/index.js";
import { trimmedFields } from "../../shared/names.js";
import { announceEmailChange, updateUserMessage } from "./email-change.js";
import type { UserEvents } from "./events.js";
import { identityToProto, userToProto } from "./mapper.js";
import type { CreateUserInput, MissingDefault } from "./model.js";
import type { UserRepo } from "./repo.js";

// The HTML standard's "valid email address", which protovalidate's isEmail() implements.
const EMAIL = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/**
 * Trimmed and lower-cased. The proto checks `this.trim().isEmail()`; CEL's trim and
 * String.prototype.trim disagree on a few exotic space characters, so the result is checked
 * again rather than trusted.
 */
export function normalizeEmail(email: string): string {
  const normalized = email.trim().toLowerCase();
  if (!EMAIL.test(normalized)) throw invalidArgument("email must be a valid email address", { email: "string.email" });
  return normalized;
}

function userInput(req: { email: string; firstName: string; lastName: string }): CreateUserInput {
  const names = trimmedFields({ first_name: { value: req.firstName }, last_name: { value: req.lastName } });
  return { email: normalizeEmail(req.email), firstName: names.first_name, lastName: names.last_name };
}

/** The part of the logger the service uses (tests pass a recorder). */
export interface UserServiceLogger {
  error(details: object, message: string): void;
  warn(details: object, message: string): void;
}

const MISSING_DEFAULT_HINT: Record<MissingDefault, string> = {
  user_role: "the global role 'user' does not exist (recreate it, or run `altalune seed`, then AssignUserRoles)",
  default_project: "there is no default project (run `altalune seed`, then AssignProjectMembers)",
};

/**
 * The escalation checks of this service (iam/delegation.ts): a caller may change, deactivate or
 * delete only users whose permissions it holds, and create users only if it holds what a new
 * user receives (the default role, the default project's membership).
 */
export interface UserGuards {
  refuseChangingUser(grantor: Grantor, userPublicId: string): Promise<void>;
  refuseCreatingUser(grantor: Grantor): Promise<void>;
}

export class UserService implements ServiceImpl<typeof UserServiceDesc> {
  constructor(
    private readonly users: UserRepo,
    private readonly events: UserEvents,
    private readonly logger: UserServiceLogger,
    private readonly guards: UserGuards,
  ) {}

  async queryUsers(req: QueryUsersRequest) {
    const result = await this.users.query(listQueryFromProto(req.query));
    return { data: result.rows.map(userToProto), meta: queryMetaToProto(result) };
  }

  async createUser(req: CreateUserRequest, ctx: HandlerContext) {
    await this.guards.refuseCreatingUser(grantorOf(ctx));
    const { user, missing } = await this.users.create(userInput(req));
    if (missing.length > 0) {
      // The user is usable, but without dashboard access or project until an operator fixes it.
      this.logger.warn(
        { userId: user.publicId, missing },
        `user created without its defaults: ${missing.map((m) => MISSING_DEFAULT_HINT[m]).join("; ")}`,
      );
    }
    try {
      await this.events.userCreated(user);
    } catch (err) {
      this.logger.error({ err, userId: user.publicId }, "user created, but a userCreated listener failed");
    }
    return { user: userToProto(user), message: "User created successfully" };
  }

  async getUser(req: GetUserRequest) {
    const user = await this.users.getByPublicId(req.id);
    const identities = await this.users.identitiesOf(user);
    return { user: userToProto(user), identities: identities.map(identityToProto) };
  }

  async updateUser(req: UpdateUserRequest, ctx: HandlerContext) {
    // The escalation check runs inside the update, with the user's row locked.
    const { user, emailChange } = await this.users.update({ publicId: req.id, ...userInput(req) }, grantorOf(ctx));
    if (emailChange === "requested") await announceEmailChange(this.events, this.logger, user);
    return { user: userToProto(user), message: updateUserMessage(emailChange, user) };
  }

  async deleteUser(req: DeleteUserRequest, ctx: HandlerContext) {
    await this.guards.refuseChangingUser(grantorOf(ctx), req.id);
    await this.users.delete(req.id);
    this.events.userAccessChanged?.(req.id);
    return { message: "User deleted successfully" };
  }

  async activateUser(req: ActivateUserRequest, ctx: HandlerContext) {
    await this.guards.refuseChangingUser(grantorOf(ctx), req.id);
    const user = await this.users.activate(req.id);
    this.events.userAccessChanged?.(user.publicId);
    return { user: userToProto(user), message: "User activated successfully" };
  }

  async deactivateUser(req: DeactivateUserRequest, ctx: HandlerContext) {
    await this.guards.refuseChangingUser(grantorOf(ctx), req.id);
    const user = await this.users.deactivate(req.id);
    this.events.userAccessChanged?.(user.publicId);
    return { user: userToProto(user), message: "User deactivated successfully" };
  }
}
