import { it } from "vitest";
import { createTestDatabase } from "./testing.js";
it("timing", async () => {
  for (const empty of [false, true]) {
    const c: number[] = [], d: number[] = [];
    for (let i = 0; i < 6; i++) {
      let t = performance.now();
      const db = await createTestDatabase({ empty });
      c.push(Math.round(performance.now() - t));
      await db.sql`select 1`;
      t = performance.now();
      await db.drop();
      d.push(Math.round(performance.now() - t));
    }
    console.log(empty ? "empty" : "template", "create", c.join(","), "drop", d.join(","));
  }
});
