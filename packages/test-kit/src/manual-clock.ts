export interface ManualClock {
  now(): Date;
  /** Moves the clock by `seconds` (negative: back). */
  advance(seconds: number): void;
}

/** A clock the test moves by hand. `now` is a bound function: pass `clock.now` as a `() => Date`. */
export function manualClock(start = "2030-01-01T00:00:00Z"): ManualClock {
  let now = new Date(start).getTime();
  return {
    now: () => new Date(now),
    advance: (seconds) => {
      now += seconds * 1000;
    },
  };
}
