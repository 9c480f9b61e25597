import { IAMMapperService as IAMMapperServiceDesc } from "@altalune/proto";
import { defineDomain } from "../../shared/domain-module.js";
import { IamRepo } from "./repo.js";
import { IamMapperService } from "./service.js";

export {
  DelegationCodes,
  grantorOf,
  refuseChangingRole,
  refuseChangingUser,
  refuseChangingUserByPublicId,
  refuseGrantingDefaults,
  refuseGrantingKeys,
  refuseGrantingPermissions,
  type Grantor,
} from "./delegation.js";
export { lockProjectsOwnedBy, lockSuperadminRole, ownedProjectIds, refuseLastOwnerOf, refuseLastSuperadmin } from "./guards.js";
export { SEED_PERMISSIONS, seedIam } from "./seed.js";

export const iamDomain = defineDomain({
  key: "iamMapper",
  service: IAMMapperServiceDesc,
  create: (deps) => new IamMapperService(new IamRepo(deps.sql)),
});
