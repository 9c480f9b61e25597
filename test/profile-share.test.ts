import { describe, expect, it } from "vitest";
import { parsePattern, profileShares } from "../bench/profile-share.js";

// bench/profile-share.ts on a profile small enough to count by hand: root → (program), (idle),
// a (a.ts) → b (b.ts) → a again (recursion). Samples, 1 ms apart: a, b, a↺, a↺, (idle), (program).

const frame = (functionName: string, url = "") => ({ functionName, url, lineNumber: 0, columnNumber: 0 });
const profile = {
  startTime: 0,
  endTime: 6000,
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2, 3, 4] },
    { id: 2, callFrame: frame("(program)") },
    { id: 3, callFrame: frame("(idle)") },
    { id: 4, callFrame: frame("a", "file:///src/a.ts"), children: [5] },
    { id: 5, callFrame: frame("b", "file:///lib/node_modules/b/b.js"), children: [6] },
    { id: 6, callFrame: frame("a", "file:///src/a.ts") },
  ],
  samples: [4, 5, 6, 6, 3, 2],
  timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000],
};

describe("profile-share", () => {
  it("self and inclusive samples per pattern and for any pattern, recursion counted once, idle left out of busy", () => {
    const r = profileShares("p", profile, [parsePattern("src/a.ts"), parsePattern("lib=/node_modules\\/b\\//")]);
    expect(r.samples).toBe(6);
    expect(r.idleSamples).toBe(1);
    expect(r.busySamples).toBe(5);
    const [a, b] = r.patterns;
    expect(a).toMatchObject({ label: "src/a.ts", selfSamples: 3, inclusiveSamples: 4, selfPercentOfBusy: 60, inclusivePercentOfBusy: 80 });
    expect(a?.inclusivePercentOfAll).toBeCloseTo(66.667, 2);
    expect(b).toMatchObject({ label: "lib", selfSamples: 1, inclusiveSamples: 3 });
    expect(r.union).toMatchObject({ selfSamples: 4, inclusiveSamples: 4 });
    expect(r.topFunctions.map((f) => [f.function, f.selfSamples, f.inclusiveSamples])).toEqual([
      ["a", 3, 4],
      ["b", 1, 3],
    ]);
  });

  it("function-name patterns, and a time window (negative = from the end)", () => {
    const byName = profileShares("p", profile, [parsePattern("fn:b")]);
    expect(byName.patterns[0]).toMatchObject({ selfSamples: 1, inclusiveSamples: 3 });
    // The last 3 ms: a↺ (at 4 ms), (idle), (program).
    const last = profileShares("p", profile, [parsePattern("src/a.ts")], { from: -0.0025 });
    expect(last.samples).toBe(3);
    expect(last.busySamples).toBe(2);
    expect(last.patterns[0]).toMatchObject({ selfSamples: 1, inclusiveSamples: 1, selfPercentOfBusy: 50 });
    const first = profileShares("p", profile, [parsePattern("src/a.ts")], { to: 0.002 });
    expect(first.patterns[0]).toMatchObject({ selfSamples: 1, inclusiveSamples: 2 });
  });
});
