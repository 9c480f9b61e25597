import { UserService as UserServiceDesc } from "@altalune/proto";
import { defineDomain } from "../../shared/domain-module.js";
import { refuseChangingUserByPublicId, refuseGrantingDefaults } from "../iam/index.js";
import { UserRepo } from "./repo.js";
import { UserService } from "./service.js";

export { userNotFound } from "./errors.js";
export { noUserEvents, type UserEvents } from "./events.js";
export { userColumns, userFromRow, userToProto, type UserRow } from "./mapper.js";
export type { User } from "./model.js";

export const userDomain = defineDomain({
  key: "user",
  service: UserServiceDesc,
  create: ({ sql, userEvents, logger }) =>
    new UserService(new UserRepo(sql), userEvents, logger, {
      refuseChangingUser: (grantor, id) => refuseChangingUserByPublicId(sql, grantor, id),
      refuseCreatingUser: (grantor) => refuseGrantingDefaults(sql, grantor),
    }),
});
