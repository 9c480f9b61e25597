// The share of a V8 CPU profile (`node --cpu-prof`, a .cpuprofile file) spent in code whose script
// URL matches given patterns: for each pattern, the samples whose innermost frame matches (self)
// and the samples with a matching frame anywhere on the stack (inclusive, each sample counted once),
// as % of all samples and of the busy ones (all minus "(idle)"), then the matched functions that
// weigh most. Shares are sample counts: V8 samples at a fixed interval (--cpu-prof-interval).
//
//   pnpm exec tsx bench/profile-share.ts <file.cpuprofile> <pattern>... [--from s] [--to s] [--top 15] [--json]
//
// --from/--to keep only the samples of a time window, in seconds from the profile's start, or from
// its end when negative (`--from=-11` = the last 11 s: a load run that ended just before shutdown),
// so start-up (module loading, tsx compiling) and idle waits around the load do not dilute it.
// A pattern is a substring of the script URL (`packages/core/src/tracing.ts`, `/@opentelemetry/`),
// or a regular expression between slashes (`/tracing\.ts$/`); `fn:` before either matches the
// function's name instead (`fn:mixinMergeStrategy`); `label=pattern` names its row.
// Caveats when reading the numbers: functions V8 inlined into their caller count as the caller
// (a one-line check like `tracingActive()` usually disappears into the call path it guards); and
// the inclusive share of a wrapper (a middleware that calls `next()`) includes everything it wraps,
// so for wrappers read self, or profile with a pattern that matches only the wrapper's own work.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  timeDeltas?: number[];
}

interface Pattern {
  label: string;
  test: (frame: CallFrame) => boolean;
}

export interface Share {
  label: string;
  selfSamples: number;
  inclusiveSamples: number;
  selfPercentOfBusy: number;
  inclusivePercentOfBusy: number;
  selfPercentOfAll: number;
  inclusivePercentOfAll: number;
}

export interface FunctionShare {
  function: string;
  location: string;
  selfSamples: number;
  inclusiveSamples: number;
  selfPercentOfBusy: number;
  inclusivePercentOfBusy: number;
}

export interface ProfileShares {
  file: string;
  durationSeconds: number;
  /** The window the shares are of, in seconds from the profile's start. */
  window: { from: number; to: number };
  samples: number;
  busySamples: number;
  idleSamples: number;
  meanIntervalMicros: number;
  patterns: Share[];
  /** Any pattern (each sample once). */
  union: Share;
  topFunctions: FunctionShare[];
}

export function parsePattern(arg: string): Pattern {
  const eq = arg.indexOf("=");
  const label = eq > 0 ? arg.slice(0, eq) : arg;
  const spec = eq > 0 ? arg.slice(eq + 1) : arg;
  const byName = spec.startsWith("fn:");
  const body = byName ? spec.slice(3) : spec;
  const field = (f: CallFrame) => (byName ? f.functionName : f.url);
  const regex = /^\/(.+)\/([a-z]*)$/.exec(body);
  if (regex) {
    const re = new RegExp(regex[1]!, regex[2]);
    return { label, test: (f) => re.test(field(f)) };
  }
  return { label, test: (f) => field(f).includes(body) };
}

/** Self and inclusive shares of `patterns` in `profile` (see the file's header). */
export function profileShares(
  file: string,
  profile: CpuProfile,
  patterns: Pattern[],
  opts: { top?: number; from?: number; to?: number } = {},
): ProfileShares {
  const top = opts.top ?? 15;
  const durationSeconds = (profile.endTime - profile.startTime) / 1e6;
  const at = (s: number | undefined, fallback: number) => (s === undefined ? fallback : s < 0 ? durationSeconds + s : s);
  const from = at(opts.from, 0);
  const to = at(opts.to, durationSeconds);
  if (profile.timeDeltas === undefined && (opts.from !== undefined || opts.to !== undefined)) throw new Error(`${file} has no timeDeltas: no window can be taken`);
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const all = patterns.length;
  // Bit i: the node's own frame matches pattern i; bit `all`: any pattern.
  const ownMask = new Map<number, number>();
  for (const n of profile.nodes) {
    let mask = 0;
    patterns.forEach((p, i) => {
      if (p.test(n.callFrame)) mask |= (1 << i) | (1 << all);
    });
    ownMask.set(n.id, mask);
  }
  // Patterns matched anywhere from the node up to the root (memoised, iterative: stacks can be deep).
  const stackMask = new Map<number, number>();
  const stackMaskOf = (id: number): number => {
    const path: number[] = [];
    let cur: number | undefined = id;
    while (cur !== undefined && !stackMask.has(cur)) {
      path.push(cur);
      cur = parent.get(cur);
    }
    let mask = cur === undefined ? 0 : stackMask.get(cur)!;
    for (let i = path.length - 1; i >= 0; i--) {
      mask |= ownMask.get(path[i]!)!;
      stackMask.set(path[i]!, mask);
    }
    return mask;
  };

  const self = new Array<number>(all + 1).fill(0);
  const inclusive = new Array<number>(all + 1).fill(0);
  const fnSelf = new Map<string, number>();
  const fnInclusive = new Map<string, number>();
  const fnLocation = new Map<string, string>();
  const keyOf = (f: CallFrame) => `${f.functionName || "(anonymous)"} ${f.url}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
  let idle = 0;
  let total = 0;
  let clock = 0;
  for (const [index, id] of profile.samples.entries()) {
    clock += profile.timeDeltas?.[index] ?? 0;
    const seconds = clock / 1e6;
    if (seconds < from || seconds > to) continue;
    total++;
    const node = byId.get(id);
    if (node === undefined) continue;
    if (node.callFrame.functionName === "(idle)") {
      idle++;
      continue;
    }
    const own = ownMask.get(id)!;
    const stack = stackMaskOf(id);
    for (let i = 0; i <= all; i++) {
      if (own & (1 << i)) self[i]!++;
      if (stack & (1 << i)) inclusive[i]!++;
    }
    if (!(stack & (1 << all))) continue;
    if (own & (1 << all)) fnSelf.set(keyOf(node.callFrame), (fnSelf.get(keyOf(node.callFrame)) ?? 0) + 1);
    // Each matched function once per sample, however often it recurs on the stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      if (!(ownMask.get(cur)! & (1 << all))) continue;
      const frame = byId.get(cur)!.callFrame;
      const key = keyOf(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      fnInclusive.set(key, (fnInclusive.get(key) ?? 0) + 1);
      fnLocation.set(key, `${frame.url}:${frame.lineNumber + 1}`);
    }
  }
  const busy = total - idle;
  const pct = (n: number, of: number) => (of === 0 ? 0 : (100 * n) / of);
  const share = (label: string, i: number): Share => ({
    label,
    selfSamples: self[i]!,
    inclusiveSamples: inclusive[i]!,
    selfPercentOfBusy: pct(self[i]!, busy),
    inclusivePercentOfBusy: pct(inclusive[i]!, busy),
    selfPercentOfAll: pct(self[i]!, total),
    inclusivePercentOfAll: pct(inclusive[i]!, total),
  });
  const topFunctions = [...fnInclusive.entries()]
    .sort((a, b) => b[1] - a[1] || (fnSelf.get(b[0]) ?? 0) - (fnSelf.get(a[0]) ?? 0))
    .slice(0, top)
    .map(([key, inc]): FunctionShare => ({
      function: key.slice(0, key.indexOf(" ")),
      location: fnLocation.get(key)!,
      selfSamples: fnSelf.get(key) ?? 0,
      inclusiveSamples: inc,
      selfPercentOfBusy: pct(fnSelf.get(key) ?? 0, busy),
      inclusivePercentOfBusy: pct(inc, busy),
    }));
  return {
    file,
    durationSeconds,
    window: { from, to },
    samples: total,
    busySamples: busy,
    idleSamples: idle,
    meanIntervalMicros: total === 0 ? 0 : ((to - from) * 1e6) / total,
    patterns: patterns.map((p, i) => share(p.label, i)),
    union: share("any of the patterns", all),
    topFunctions,
  };
}

function report(r: ProfileShares): string {
  const f = (n: number) => n.toFixed(3).padStart(8);
  const width = Math.max(22, ...r.patterns.map((p) => p.label.length), ...r.topFunctions.map((t) => t.function.length));
  const row = (s: Share) =>
    `${s.label.padEnd(width)} ${f(s.selfPercentOfBusy)} ${f(s.inclusivePercentOfBusy)} ${f(s.selfPercentOfAll)} ${f(s.inclusivePercentOfAll)} ${String(s.selfSamples).padStart(8)} ${String(s.inclusiveSamples).padStart(8)}`;
  return [
    `${r.file}: ${r.durationSeconds.toFixed(1)} s; window ${r.window.from.toFixed(1)}–${r.window.to.toFixed(1)} s: ${r.samples} samples (${r.busySamples} busy, ${r.idleSamples} idle), one per ${r.meanIntervalMicros.toFixed(0)} µs`,
    "",
    `${"pattern".padEnd(width)} ${"self %".padStart(8)} ${"incl %".padStart(8)} ${"self %".padStart(8)} ${"incl %".padStart(8)} ${"self".padStart(8)} ${"incl".padStart(8)}`,
    `${"".padEnd(width)} ${"of busy".padStart(8)} ${"of busy".padStart(8)} ${"of all".padStart(8)} ${"of all".padStart(8)} ${"samples".padStart(8)} ${"samples".padStart(8)}`,
    ...r.patterns.map(row),
    row(r.union),
    "",
    r.topFunctions.length === 0 ? "no sample in matched code" : `matched functions by inclusive samples (% of busy):`,
    ...r.topFunctions.map((t) => `  ${t.function.padEnd(width)} incl ${f(t.inclusivePercentOfBusy)}  self ${f(t.selfPercentOfBusy)}  ${t.location}`),
  ].join("\n");
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: "string", default: "15" },
      from: { type: "string" },
      to: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const [file, ...patternArgs] = positionals;
  if (file === undefined || patternArgs.length === 0) {
    throw new Error("usage: tsx bench/profile-share.ts <file.cpuprofile> <pattern>... [--from s] [--to s] [--top 15] [--json]");
  }
  if (patternArgs.length > 30) throw new Error("at most 30 patterns");
  const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples)) throw new Error(`${file} is not a .cpuprofile (no nodes/samples)`);
  const seconds = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`--${name}: not a number of seconds: ${v}`);
    return n;
  };
  const from = seconds("from", values.from);
  const to = seconds("to", values.to);
  const result = profileShares(file, profile, patternArgs.map(parsePattern), {
    top: Number(values.top),
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
  });
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${report(result)}\n`);
}

// Run as a script (importing it for profileShares runs nothing).
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
