import type { Adapter, AdapterPayload } from "oidc-provider";
import { oidcCallback } from "../availability/unavailable.js";
import type { ClientStore } from "./client-store.js";

/** Clients: read from altalune_oauth_clients; the provider never writes them (no registration). */
export class ClientAdapter implements Adapter {
  constructor(private readonly clients: ClientStore) {}
  async find(id: string): Promise<AdapterPayload | undefined> {
    return (await this.clients.find(id)) as AdapterPayload | undefined;
  }
  upsert(): Promise<void> {
    return Promise.reject(new Error("clients are managed by OAuthClientService, not by the provider"));
  }
  findByUid(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  findByUserCode(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  consume(): Promise<void> {
    return Promise.resolve();
  }
  destroy(): Promise<void> {
    return Promise.resolve();
  }
  revokeByGrantId(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Every write forgets what this request read of the model, before it and after it (a read that ran
 * alongside the write may have kept the row as it was); revokeByGrantId touches every model.
 */
export function forgettingReadsOnWrite(adapter: Adapter, model: string, reads: { forget(model?: string): void }): Adapter {
  const writing = async (write: () => Promise<void>, all = false) => {
    reads.forget(all ? undefined : model);
    try {
      await write();
    } finally {
      reads.forget(all ? undefined : model);
    }
  };
  return {
    upsert: (id, payload, expiresIn) => writing(() => adapter.upsert(id, payload, expiresIn)),
    find: (id) => adapter.find(id),
    findByUid: (uid) => adapter.findByUid(uid),
    findByUserCode: (userCode) => adapter.findByUserCode(userCode),
    consume: (id) => writing(() => adapter.consume(id)),
    destroy: (id) => writing(() => adapter.destroy(id)),
    revokeByGrantId: (grantId) => writing(() => adapter.revokeByGrantId(grantId), true),
  };
}

/**
 * Every adapter call with database unavailability turned into the OAuth error oidc-provider
 * answers 503 `temporarily_unavailable` (instead of its 500 `server_error`); see availability/.
 */
export function unavailabilityAware(adapter: Adapter): Adapter {
  return {
    upsert: (id, payload, expiresIn) => oidcCallback(() => adapter.upsert(id, payload, expiresIn)),
    find: (id) => oidcCallback(async () => adapter.find(id)),
    findByUid: (uid) => oidcCallback(async () => adapter.findByUid(uid)),
    findByUserCode: (userCode) => oidcCallback(async () => adapter.findByUserCode(userCode)),
    consume: (id) => oidcCallback(() => adapter.consume(id)),
    destroy: (id) => oidcCallback(() => adapter.destroy(id)),
    revokeByGrantId: (grantId) => oidcCallback(() => adapter.revokeByGrantId(grantId)),
  };
}
