import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { newPublicId, type Clock } from "@altalune/core";
import type {
  ActivateApiKeyRequest,
  ApiKeyService as ApiKeyServiceDesc,
  CreateApiKeyRequest,
  DeactivateApiKeyRequest,
  DeleteApiKeyRequest,
  GetApiKeyRequest,
  QueryApiKeysRequest,
  UpdateApiKeyRequest,
} from "@altalune/proto";
import { requireTrimmedName } from "../../shared/names.js";
import { listQueryFromProto, queryMetaToProto } from "../../shared/query-mapper.js";
import { API_KEY_PERMISSIONS } from "../../auth/authorizer.js";
import { grantorOf, refuseGrantingKeys } from "../iam/index.js";
import type { ProjectRepo } from "../project/index.js";
import { apiKeyExpired, expirationInPast, expirationTooFar } from "./errors.js";
import { generateApiKey } from "./key-format.js";
import { apiKeyToProto } from "./mapper.js";
import { MAX_LIFETIME_MS, type ApiKeyInput } from "./model.js";
import type { ApiKeyRepo } from "./repo.js";

export class ApiKeyService implements ServiceImpl<typeof ApiKeyServiceDesc> {
  constructor(
    private readonly keys: ApiKeyRepo,
    private readonly projects: Pick<ProjectRepo, "within">,
    private readonly clock: Clock,
  ) {}

  /** The proto rules check the expiration against the wall clock; this checks it against ours. */
  private inputOf(req: CreateApiKeyRequest | UpdateApiKeyRequest, now: Date): ApiKeyInput {
    const name = requireTrimmedName("name", req.name, 2);
    const expiration = timestampDate(req.expiration as Timestamp);
    if (expiration.getTime() <= now.getTime()) throw expirationInPast();
    if (expiration.getTime() > now.getTime() + MAX_LIFETIME_MS) throw expirationTooFar();
    return { name, expiration };
  }

  async queryApiKeys(req: QueryApiKeysRequest) {
    const now = this.clock();
    const result = await this.projects.within(
      req.projectId,
      (project) => this.keys.query(project, listQueryFromProto(req.query), now),
      (r) => r.rows.length > 0,
    );
    return { data: result.rows.map((k) => apiKeyToProto(k, now)), meta: queryMetaToProto(result) };
  }

  // A key carries API_KEY_PERMISSIONS for its whole life: creating, extending or reactivating one
  // grants them, so only a caller holding them may (delegation.ts).
  async createApiKey(req: CreateApiKeyRequest, ctx: HandlerContext) {
    refuseGrantingKeys(grantorOf(ctx), API_KEY_PERMISSIONS);
    return this.projects.within(req.projectId, async (project) => {
      const now = this.clock();
      const input = this.inputOf(req, now);
      const publicId = newPublicId();
      const key = generateApiKey(project.publicId, publicId);
      const created = await this.keys.create(project, publicId, input, key.secretHash);
      return { apiKey: apiKeyToProto(created, now), keyValue: key.value, message: "API key created successfully" };
    });
  }

  async getApiKey(req: GetApiKeyRequest) {
    const key = await this.projects.within(req.projectId, (project) => this.keys.get(project, req.apiKeyId));
    return { apiKey: apiKeyToProto(key, this.clock()) };
  }

  async updateApiKey(req: UpdateApiKeyRequest, ctx: HandlerContext) {
    refuseGrantingKeys(grantorOf(ctx), API_KEY_PERMISSIONS);
    return this.projects.within(req.projectId, async (project) => {
      const now = this.clock();
      const updated = await this.keys.update(project, req.apiKeyId, this.inputOf(req, now));
      return { apiKey: apiKeyToProto(updated, now), message: "API key updated successfully" };
    });
  }

  async deleteApiKey(req: DeleteApiKeyRequest) {
    await this.projects.within(req.projectId, (project) => this.keys.delete(project, req.apiKeyId));
    return { message: "API key deleted successfully" };
  }

  async activateApiKey(req: ActivateApiKeyRequest, ctx: HandlerContext) {
    refuseGrantingKeys(grantorOf(ctx), API_KEY_PERMISSIONS);
    return this.projects.within(req.projectId, async (project) => {
      const now = this.clock();
      const activated = await this.keys.setActive(project, req.apiKeyId, true, now);
      if (activated === undefined) throw apiKeyExpired(req.apiKeyId);
      return { apiKey: apiKeyToProto(activated, now), message: "API key activated successfully" };
    });
  }

  /** Keeps the expiration (the original overwrote it with 1970), so reactivation restores the key as it was. */
  async deactivateApiKey(req: DeactivateApiKeyRequest) {
    return this.projects.within(req.projectId, async (project) => {
      const now = this.clock();
      const deactivated = await this.keys.setActive(project, req.apiKeyId, false, now);
      if (deactivated === undefined) throw new Error("deactivation cannot be refused");
      return { apiKey: apiKeyToProto(deactivated, now), message: "API key deactivated successfully" };
    });
  }
}
