import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { redacting, redactSecrets } from "../../../src/errors.ts";
import {
  AuthError,
  HttpStatusError,
  InvalidArgumentError,
  isLeaseError,
  LeaseError,
  LeaseLostError,
  LeaseTimeoutError,
  MalformedResponseError,
  TransportError,
} from "../../../src/index.ts";

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
    expect(new HttpStatusError(429, "slow down")).toMatchObject({
      retryable: true,
      message: "HTTP 429: slow down",
    });
    expect(new HttpStatusError(408, "too slow")).toMatchObject({ retryable: true });
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

describe("redactSecrets and redacting", () => {
  const SECRET = 'pa"ss\\word';

  it("removes secrets, raw and JSON-escaped, from message, stack, own fields and the cause chain", () => {
    const root = new DOMException(`aborted with ${SECRET}`, "AbortError");
    const middle = new TypeError(`header value ${JSON.stringify(SECRET)} is invalid`, { cause: root });
    const error = new InvalidArgumentError("auth", `refused ${SECRET}`, { cause: middle });
    redactSecrets(error, [SECRET, ""]);
    const text = inspect(error, { depth: 10, showHidden: true });
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(JSON.stringify(SECRET).slice(1, -1));
    expect(error.rule).toBe("refused [redacted]");
    expect(root.message).toBe("aborted with [redacted]");
  });

  it("replaces a cause that is not an Error when it mentions a secret or cannot be serialized", () => {
    const leaky = new LeaseError("HTTP", "x", { cause: { body: `token ${SECRET}` } });
    const opaque = new LeaseError("HTTP", "x", { cause: { n: 1n } });
    const harmless = new LeaseError("HTTP", "x", { cause: { status: 500 } });
    for (const e of [leaky, opaque, harmless]) redactSecrets(e, [SECRET]);
    expect(leaky.cause).toBe("[redacted]");
    expect(opaque.cause).toBe("[redacted]");
    expect(harmless.cause).toEqual({ status: 500 });
  });

  it("wraps an object so that its rejected promises are redacted, with secrets read at failure time", async () => {
    const secrets: string[] = [];
    const target = {
      kind: "x",
      fail: async () => {
        throw new LeaseError("AUTH", `token ${secrets[0]}`);
      },
      sync: () => 42,
    };
    const wrapped = redacting(target, () => secrets);
    secrets.push("tok-123");
    await expect(wrapped.fail()).rejects.toThrow("token [redacted]");
    expect(wrapped.sync()).toBe(42);
    expect(wrapped.kind).toBe("x");
  });
});
