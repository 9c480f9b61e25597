import type { DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Clock, Config, Logger } from "@altalune/core";
import type { Sql } from "@altalune/db";
import { registration, type ServiceRegistration } from "@altalune/rpc";
import type { UserEvents } from "../domains/user/index.js";

/** What every domain is built from: one set per container (so per server). */
export interface DomainDeps {
  sql: Sql;
  config: Config;
  logger: Logger;
  /** Time as the domains see it; tests pass a fixed one. */
  clock: Clock;
  /** Listeners of user life-cycle events. */
  userEvents: UserEvents;
  /**
   * The container's one instance of what `make` builds, made on first use: how domains share a
   * stateful part (ProjectRepo's id cache) without the container knowing it.
   */
  shared<T>(make: (deps: DomainDeps) => T): T;
}

/** A built domain: its service implementation and that implementation registered for both ports. */
export interface ServedDomain<I> {
  impl: I;
  registration: ServiceRegistration;
}

/** What a domain folder's index.ts exports and domains.ts lists. */
export interface DomainModule<K extends string = string, I = unknown> {
  /** Its name in the container's `services`. */
  readonly key: K;
  readonly service: DescService;
  serve(deps: DomainDeps): ServedDomain<I>;
}

/** A domain module: its service's descriptor (rules and all) and a factory from the shared dependencies. */
export function defineDomain<const K extends string, S extends DescService, I extends ServiceImpl<S>>(spec: {
  key: K;
  service: S;
  create(deps: DomainDeps): I;
}): DomainModule<K, I> {
  return {
    key: spec.key,
    service: spec.service,
    serve(deps) {
      const impl = spec.create(deps);
      return { impl, registration: registration(spec.service, impl) };
    },
  };
}
