/**
 * Where code that decides by time reads it, so tests can move time by hand. A Date, as most
 * callers compare with timestamps read from the database; `.getTime()` gives milliseconds.
 */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
