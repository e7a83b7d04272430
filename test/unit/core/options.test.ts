import { describe, expect, it } from "vitest";
import { ETCD_CAPABILITIES } from "../../../adapters/etcd/index.ts";
import { InvalidArgumentError, validateLeaseOptions } from "../../../src/index.ts";

const fieldOf = (fn: () => void): string | undefined => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as InvalidArgumentError).field;
  }
  return undefined;
};

describe("validateLeaseOptions", () => {
  it("accepts good options without a backend, name or holder", () => {
    expect(() => validateLeaseOptions({ ttlMs: 2500 }, ETCD_CAPABILITIES, "etcd")).not.toThrow();
    expect(() =>
      validateLeaseOptions(
        { ttlMs: 5000, name: "jobs/x", holder: "a", driftMarginMs: 200 },
        ETCD_CAPABILITIES,
      ),
    ).not.toThrow();
  });

  it("applies createLease's rules against the capabilities given, naming the option", () => {
    const cases: [Parameters<typeof validateLeaseOptions>[0], string][] = [
      [{ ttlMs: 1000 }, "ttlMs"],
      [{ ttlMs: 5000, driftMarginMs: 2600 }, "driftMarginMs"],
      [{ ttlMs: 5000, requestTimeoutMs: 6000 }, "requestTimeoutMs"],
      [{ ttlMs: 5000, name: "a//b" }, "name"],
      [{ ttlMs: 5000, holder: "" }, "holder"],
      [{ ttlMs: 5000, value: "x".repeat(5000) }, "value"],
    ];
    for (const [options, field] of cases) {
      expect(fieldOf(() => validateLeaseOptions(options, ETCD_CAPABILITIES, "etcd"))).toBe(field);
    }
  });

  it("names the store in the TTL rule", () => {
    expect(() => validateLeaseOptions({ ttlMs: 1000 }, ETCD_CAPABILITIES, "etcd")).toThrow(
      /from 2000 to \d+ ms on etcd/,
    );
  });
});
