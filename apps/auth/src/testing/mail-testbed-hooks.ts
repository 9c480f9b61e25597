import { afterAll, beforeAll } from "vitest";
import { startMailTestbed, type MailTestbed } from "./mail-testbed.js";

/**
 * A mail testbed for the tests of the calling file (or describe block): started before them and
 * closed after them. `started` hands it over, e.g. to the file's `db`, `smtp` and `mailer`.
 */
export function useMailTestbed(opts: { max: number }, started: (testbed: MailTestbed) => void): void {
  let testbed: MailTestbed | undefined;
  beforeAll(async () => {
    testbed = await startMailTestbed(opts);
    started(testbed);
  });
  afterAll(async () => {
    await testbed?.close();
  });
}
