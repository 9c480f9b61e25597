import { UserService as UserServiceDesc } from "@altalune/proto";
import { defineDomain } from "../../shared/domain-module.js";
import { refuseChangingUserByPublicId, refuseGrantingDefaults } from "../iam/index.js";
import { UserRepo } from "./repo.js";
import { UserService } from "./service.js";

export { noUserEvents, type UserEvents } from "./events.js";

export const userDomain = defineDomain({
  key: "user",
  service: UserServiceDesc,
  create: ({ sql, userEvents, logger }) =>
    new UserService(new UserRepo(sql), userEvents, logger, {
      refuseChangingUser: (grantor, id) => refuseChangingUserByPublicId(sql, grantor, id),
      refuseCreatingUser: (grantor) => refuseGrantingDefaults(sql, grantor),
    }),
});
