import { IAMMapperService as IAMMapperServiceDesc } from "@altalune/proto";
import { defineDomain } from "../../shared/domain-module.js";
import { IamRepo } from "./repo.js";
import { IamMapperService } from "./service.js";

export { refuseChangingUserByPublicId, refuseGrantingDefaults, type Grantor } from "./delegation.js";
export { seedIam } from "./seed.js";

export const iamDomain = defineDomain({
  key: "iamMapper",
  service: IAMMapperServiceDesc,
  create: (deps) => new IamMapperService(new IamRepo(deps.sql)),
});
