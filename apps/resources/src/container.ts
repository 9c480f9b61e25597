import { systemClock, type Clock, type Config, type Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import type { ServiceRegistration } from "@altalune/rpc";
import { ApiKeyVerifier } from "./auth/api-key-verifier.js";
import { DOMAINS } from "./domains.js";
import { apiKeyRepo } from "./domains/api-key/index.js";
import { noUserEvents, type UserEvents } from "./domains/user/index.js";
import type { DomainDeps, DomainModule } from "./shared/domain-module.js";

export interface ContainerDeps {
  sql: Sql;
  config: Config;
  logger: Logger;
  /** Time as the domains see it; tests pass a fixed one. */
  clock?: Clock;
  /** Listeners of user life-cycle events (e.g. the auth server's verification mail). */
  userEvents?: UserEvents;
}

/** Each registered domain's service implementation, by its key. */
export type Services = {
  [M in (typeof DOMAINS)[number] as M["key"]]: M extends DomainModule<string, infer I> ? I : never;
};

/** Builds every domain in domains.ts once, from one set of dependencies (plain injection). */
export function createContainer({ sql, config, logger, clock = systemClock, userEvents = noUserEvents }: ContainerDeps) {
  const made = new Map<(deps: DomainDeps) => unknown, unknown>();
  const deps: DomainDeps = {
    sql,
    config,
    logger,
    clock,
    userEvents,
    shared<T>(make: (deps: DomainDeps) => T): T {
      if (!made.has(make)) made.set(make, make(deps));
      return made.get(make) as T;
    },
  };
  const served = DOMAINS.map((d) => ({ key: d.key, ...d.serve(deps) }));
  return {
    // Typed by DOMAINS: each entry is what that domain's factory returned.
    services: Object.fromEntries(served.map((s) => [s.key, s.impl])) as Services,
    /** For both ports, in the order of domains.ts. */
    registrations: served.map((s) => s.registration) as readonly ServiceRegistration[],
    auth: {
      apiKeys: new ApiKeyVerifier(apiKeyRepo(deps), clock, logger),
    },
  };
}

export type Container = ReturnType<typeof createContainer>;
