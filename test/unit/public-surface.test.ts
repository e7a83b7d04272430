/**
 * The two public entry points: `leasehold` holds what an application uses, `leasehold/backend` adds what a backend
 * author needs, so that application code never sees plumbing.
 */
import { describe, expect, it } from "vitest";
import * as kit from "../../src/backend-kit.ts";
import * as root from "../../src/index.ts";

const AUTHOR_ONLY = [
  "assertNoWritesUnder",
  "checkLeader",
  "compareMatches",
  "connectionRefused",
  "deadlineSignal",
  "decodeBase64",
  "decodeHolderRecord",
  "encodeBase64",
  "encodeHolderRecord",
  "foreignAnswer",
  "isRetryableStatus",
  "MAX_RESPONSE_BYTES",
  "normalizeTxn",
  "reasonOnly",
  "redactSecrets",
  "redacting",
  "toBytes",
  "tooLarge",
  "toTransportError",
  "validateHolder",
  "validateName",
  "withDeadline",
];

describe("public surface", () => {
  it("the root export has what an application uses and no backend-author symbol", () => {
    expect(Object.keys(root).filter((name) => AUTHOR_ONLY.includes(name))).toEqual([]);
    for (const name of [
      "createLease",
      "startElector",
      "keepTerm",
      "observe",
      "fetchTransport",
      "validateLeaseOptions",
    ]) {
      expect(Object.keys(root)).toContain(name);
    }
  });

  it("leasehold/backend has the backend-author symbols and everything of the root", () => {
    expect(Object.keys(kit)).toEqual(expect.arrayContaining([...AUTHOR_ONLY, ...Object.keys(root)]));
  });
});
