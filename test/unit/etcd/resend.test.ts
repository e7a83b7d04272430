/**
 * The etcd dispatcher's resend policy on its own: one verdict per attempt, from the answers read once (status,
 * gRPC code, message) and the transport's failures.
 */
import { describe, expect, it } from "vitest";
import { type Answer, readAnswer } from "../../../adapters/etcd/gateway-error.ts";
import { type Attempt, type Outcome, resend } from "../../../adapters/etcd/resend.ts";
import { AuthError, HttpStatusError, MalformedResponseError, TransportError } from "../../../src/index.ts";

const answer = (status: number, body: unknown): Answer =>
  readAnswer({ status, headers: {}, body: typeof body === "string" ? body : JSON.stringify(body) });
const grpc = (status: number, code: number, message = "etcdserver: x") =>
  answer(status, { error: message, message, code });
const ok = answer(200, { header: { revision: "1" } });
const refused = {
  error: new TransportError("POST refused", {
    cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
  }),
};
const reset = {
  error: new TransportError("POST reset", {
    cause: Object.assign(new Error("hang up"), { code: "ECONNRESET" }),
  }),
};

const attempt = (over: Partial<Attempt> = {}): Attempt => ({
  idempotent: true,
  freshToken: false,
  retry: true,
  ...over,
});
const verdict = (outcomes: Outcome[], over?: Partial<Attempt>) => resend(outcomes, attempt(over));

describe("readAnswer", () => {
  it("reads etcd's gRPC status from an error body once, and keeps the body", () => {
    const a = grpc(503, 14, "etcdserver: no leader");
    expect(a).toMatchObject({ status: 503, grpcCode: 14, message: "etcdserver: no leader" });
    expect(JSON.parse(a.body)).toMatchObject({ code: 14 });
  });

  it("leaves a 200 unparsed, and summarises a body that is not etcd's without quoting it", () => {
    expect(answer(200, "not json")).toEqual({
      status: 200,
      grpcCode: undefined,
      message: "",
      body: "not json",
    });
    const html = readAnswer({
      status: 502,
      headers: { "content-type": "text/html; charset=utf-8" },
      body: `<html>${"x".repeat(500)}é</html>`,
    });
    expect(html.grpcCode).toBeUndefined();
    expect(html.message).toBe(
      "answered HTTP 502 with text/html (515 bytes), not etcd's JSON gateway: is the endpoint etcd's client URL?",
    );
    // JSON of another API: an "error" field without etcd's gRPC code is not etcd's.
    expect(answer(404, { error: "no route", message: "see /docs" }).message).toBe(
      "answered HTTP 404 with no content type (42 bytes), not etcd's JSON gateway: is the endpoint etcd's client URL?",
    );
  });
});

describe("resend", () => {
  it("accepts answers the member would repeat: 200, and errors of the request itself", () => {
    expect(verdict([ok])).toBe("ok");
    expect(verdict([grpc(400, 3, "etcdserver: bad")])).toBe("ok");
    expect(verdict([grpc(404, 5)])).toBe("ok");
    expect(verdict([{ error: new MalformedResponseError("too large") }])).toBe("ok");
    expect(verdict([{ error: new AuthError("refused credentials") }])).toBe("ok");
  });

  it("sends a read to the next endpoint after 5xx, 429, Unavailable, ResourceExhausted or a lost answer", () => {
    for (const down of [answer(500, "x"), answer(429, "x"), grpc(400, 14), grpc(400, 8), reset, refused]) {
      expect(verdict([down])).toBe("next");
    }
    expect(verdict([{ error: new HttpStatusError(503, "authenticate: down") }])).toBe("next");
  });

  it("never sends a guarded txn again when it may have reached etcd, but does when the connection was refused", () => {
    expect(verdict([reset], { idempotent: false })).toBe("fail");
    expect(verdict([grpc(503, 14)], { idempotent: false })).toBe("fail");
    expect(verdict([refused], { idempotent: false })).toBe("next");
  });

  it("judges a pipelined sequence as a whole: one member failure moves the whole sequence", () => {
    expect(verdict([ok, reset])).toBe("next");
    expect(verdict([ok, grpc(400, 14)], { idempotent: false })).toBe("fail");
    expect(verdict([ok, refused], { idempotent: false })).toBe("fail");
    expect(verdict([refused, refused], { idempotent: false })).toBe("next");
  });

  it("fails without a resend once the attempts are spent or the call's signal fired", () => {
    expect(verdict([reset], { retry: false })).toBe("fail");
    expect(verdict([ok], { retry: false })).toBe("ok");
  });

  it("asks for a fresh token once when etcd refuses the token, then judges the answer as any other", () => {
    const refusals = [
      answer(401, { code: 16, message: "etcdserver: invalid auth token" }),
      grpc(400, 16),
      grpc(400, 3, "etcdserver: revision of auth store is old"),
    ];
    for (const refusal of refusals) {
      expect(verdict([refusal], { freshToken: true })).toBe("token");
      expect(verdict([ok, refusal], { freshToken: true })).toBe("token");
      expect(verdict([refusal], { freshToken: false })).toBe("ok");
    }
    expect(verdict([grpc(400, 3, "etcdserver: bad")], { freshToken: true })).toBe("ok");
    expect(verdict([grpc(403, 7, "permission denied")], { freshToken: true })).toBe("ok");
  });
});
