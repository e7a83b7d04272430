import { describe, expect, it } from "vitest";
import {
  AuthError,
  HttpStatusError,
  isLeaseError,
  LeaseError,
  LeaseLostError,
  LeaseTimeoutError,
  MalformedResponseError,
  TransportError,
} from "../../src/index.ts";

describe("errors", () => {
  it("carry a stable code and say whether a retry may help", () => {
    const cause = new Error("socket hang up");
    expect(new LeaseTimeoutError("t")).toMatchObject({
      code: "TIMEOUT",
      retryable: true,
      name: "LeaseTimeoutError",
    });
    expect(new TransportError("x", { cause })).toMatchObject({ code: "TRANSPORT", retryable: true, cause });
    expect(new HttpStatusError(503, "busy")).toMatchObject({ code: "HTTP", status: 503, retryable: true });
    expect(new HttpStatusError(400, "bad")).toMatchObject({ retryable: false, message: "HTTP 400: bad" });
    expect(new MalformedResponseError("m")).toMatchObject({ code: "MALFORMED_RESPONSE", retryable: false });
    expect(new LeaseLostError("l")).toMatchObject({ code: "LEASE_LOST", retryable: false });
    expect(new AuthError("a")).toMatchObject({ code: "AUTH" });
  });

  it("are recognised across copies of the package by their registered brand", () => {
    const fromOtherCopy = Object.create({ [Symbol.for("leasehold.LeaseError")]: true });
    expect(isLeaseError(fromOtherCopy)).toBe(true);
    expect(new LeaseLostError("x") instanceof LeaseError).toBe(true);
    expect(new LeaseLostError("x") instanceof LeaseTimeoutError).toBe(false);
    expect(isLeaseError(new Error("plain"))).toBe(false);
    expect(isLeaseError(null)).toBe(false);
  });
});
