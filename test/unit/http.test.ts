import { describe, expect, it } from "vitest";
import { deadlineSignal, fetchTransport, LeaseTimeoutError, TransportError } from "../../src/index.ts";

const req = (signal: AbortSignal) => ({
  method: "POST" as const,
  url: "http://127.0.0.1:1/v3/kv/range?x=1",
  signal,
});

describe("fetchTransport", () => {
  it("returns status, lower-case headers and the body text", async () => {
    const transport = fetchTransport({
      fetch: async () => new Response('{"ok":true}', { status: 404, headers: { "X-Thing": "1" } }),
    });
    const res = await transport.request(req(AbortSignal.timeout(1000)));
    expect(res).toEqual({
      status: 404,
      headers: { "content-type": "text/plain;charset=UTF-8", "x-thing": "1" },
      body: '{"ok":true}',
    });
  });

  it("maps a network failure to a retryable TransportError without the query string", async () => {
    const transport = fetchTransport({
      fetch: async () => {
        throw new TypeError("fetch failed");
      },
    });
    const error = await transport.request(req(AbortSignal.timeout(1000))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ retryable: true });
    expect((error as Error).message).toBe("POST http://127.0.0.1:1/v3/kv/range failed: fetch failed");
  });

  it("maps the deadline to LeaseTimeoutError and a caller's abort to a non-retryable TransportError", async () => {
    const hanging = fetchTransport({
      fetch: (_url, init) =>
        new Promise((_, reject) =>
          init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)),
        ),
    });
    await expect(hanging.request(req(deadlineSignal(10)))).rejects.toBeInstanceOf(LeaseTimeoutError);
    const caller = new AbortController();
    const pending = hanging.request(req(deadlineSignal(10_000, caller.signal)));
    caller.abort(new Error("shutting down"));
    await expect(pending).rejects.toMatchObject({ code: "TRANSPORT", retryable: false });
  });
});
