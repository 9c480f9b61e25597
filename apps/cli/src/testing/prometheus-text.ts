/**
 * A strict parser of the Prometheus text exposition format 0.0.4 (what prom-client writes), for
 * tests: every line must be a HELP, a TYPE, or a sample of a family whose TYPE came first; label
 * values are unescaped; anything else throws with the line, so a malformed scrape fails the test.
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const HELP_LINE = new RegExp(`^# HELP (${NAME}) (.*)$`);
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
const SUFFIXES: Record<MetricType, string[]> = {
  counter: [""],
  gauge: [""],
  untyped: [""],
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
};

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad sample value in: ${line}`);
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    LABEL.lastIndex = at;
    const m = LABEL.exec(text);
    if (!m) throw new Error(`bad labels in: ${line}`);
    const [, key = "", raw = ""] = m;
    if (key in labels) throw new Error(`duplicate label ${key} in: ${line}`);
    labels[key] = raw.replace(/\\(.)/g, (_, c: string) => {
      if (c === "n") return "\n";
      if (c === "\\" || c === '"') return c;
      throw new Error(`bad escape \\${c} in: ${line}`);
    });
    at = LABEL.lastIndex;
  }
  return labels;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const help = HELP_LINE.exec(line);
    if (help) {
      helps.set(help[1]!, help[2]!);
      continue;
    }
    const type = TYPE_LINE.exec(line);
    if (type) {
      const name = type[1]!;
      if (families.has(name)) throw new Error(`TYPE given twice for ${name}`);
      families.set(name, { name, type: type[2] as MetricType, help: helps.get(name) ?? "", samples: [] });
      continue;
    }
    if (line.startsWith("#")) throw new Error(`unexpected comment line: ${line}`);
    const sample = SAMPLE_LINE.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const name = sample[1]!;
    const family = [...families.values()].find((f) => SUFFIXES[f.type].some((s) => f.name + s === name));
    if (family === undefined) throw new Error(`sample of an undeclared family: ${line}`);
    family.samples.push({ name, labels: parseLabels(sample[2] ?? "", line), value: parseValue(sample[3]!, line) });
  }
  return families;
}

/** The value of the one sample named `name` whose labels include `labels`; 0 when there is none (a counter not yet moved). */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const matching = [...families.values()]
    .flatMap((f) => f.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matching.length > 1) throw new Error(`${matching.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return matching[0]?.value ?? 0;
}
