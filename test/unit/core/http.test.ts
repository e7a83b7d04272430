import { afterEach, describe, expect, it, vi } from "vitest";
import {
  deadlineSignal,
  fetchTransport,
  LeaseTimeoutError,
  MalformedResponseError,
  TransportError,
} from "../../../src/backend-kit.ts";
import { MAX_RESPONSE_BYTES, withDeadline } from "../../../src/http.ts";

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

describe("fetchTransport: redirects and answer size", () => {
  it("asks fetch not to follow redirects, and returns a 3xx as it is", async () => {
    let redirect: RequestRedirect | undefined;
    const transport = fetchTransport({
      fetch: async (_url, init) => {
        redirect = init?.redirect;
        return new Response("moved", { status: 307, headers: { location: "http://elsewhere.test/" } });
      },
    });
    const res = await transport.request(req(AbortSignal.timeout(1000)));
    expect(redirect).toBe("manual");
    expect(res).toMatchObject({ status: 307, headers: { location: "http://elsewhere.test/" } });
  });

  it("stops reading past the cap (64 KiB by default, or the request's), and cancels the body", async () => {
    let cancelled = 0;
    let pulled = 0;
    const endless = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            pulled++;
            controller.enqueue(new Uint8Array(4096).fill(97));
          },
          cancel() {
            cancelled++;
          },
        }),
      );
    const transport = fetchTransport({ fetch: async () => endless() });
    const error = await transport.request(req(AbortSignal.timeout(1000))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedResponseError);
    expect(pulled).toBeLessThanOrEqual(MAX_RESPONSE_BYTES / 4096 + 2);
    const small = transport.request({ ...req(AbortSignal.timeout(1000)), maxResponseBytes: 10_000 });
    await expect(small).rejects.toBeInstanceOf(MalformedResponseError);
    expect(cancelled).toBe(2);
  });

  it("reads an answer up to the cap whole, in UTF-8 split across chunks", async () => {
    const text = `"${"é".repeat(30_000)}"`;
    const bytes = new TextEncoder().encode(text);
    const transport = fetchTransport({
      fetch: async () =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(bytes.subarray(0, 1001));
              controller.enqueue(bytes.subarray(1001));
              controller.close();
            },
          }),
        ),
    });
    const res = await transport.request(req(AbortSignal.timeout(1000)));
    expect(res.body).toBe(text);
  });
});

describe("withDeadline", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const hanging = fetchTransport({
    fetch: (_url, init) =>
      new Promise((_, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal?.reason))),
  });

  it("aborts with a TimeoutError at the deadline, which the transport reports as LeaseTimeoutError", async () => {
    vi.useFakeTimers();
    let seen: AbortSignal | undefined;
    const call = withDeadline(250, undefined, (signal) => {
      seen = signal;
      return hanging.request(req(signal));
    });
    const failed = expect(call).rejects.toBeInstanceOf(LeaseTimeoutError);
    vi.advanceTimersByTime(249);
    expect(seen?.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    await failed;
    expect(seen?.reason).toMatchObject({ name: "TimeoutError" });
  });

  it("aborts with the caller's reason when the caller's signal fires first, or has already fired", async () => {
    const caller = new AbortController();
    const pending = withDeadline(10_000, caller.signal, (signal) => hanging.request(req(signal)));
    caller.abort(new Error("shutting down"));
    await expect(pending).rejects.toMatchObject({ code: "TRANSPORT", retryable: false });
    let reason: unknown;
    await withDeadline(10_000, caller.signal, async (signal) => {
      reason = signal.reason;
    });
    expect(reason).toEqual(new Error("shutting down"));
  });

  it("leaves no timer and no listener on the caller's signal once the call settles, either way", async () => {
    vi.useFakeTimers();
    const caller = new AbortController();
    const added: unknown[] = [];
    const removed: unknown[] = [];
    const target = caller.signal;
    const add = target.addEventListener.bind(target);
    const remove = target.removeEventListener.bind(target);
    vi.spyOn(target, "addEventListener").mockImplementation((type, fn, o) => {
      added.push(fn);
      add(type, fn, o);
    });
    vi.spyOn(target, "removeEventListener").mockImplementation((type, fn, o) => {
      removed.push(fn);
      remove(type, fn, o);
    });
    expect(await withDeadline(5000, caller.signal, async () => "done")).toBe("done");
    await expect(
      withDeadline(5000, caller.signal, async () => {
        throw new Error("failed");
      }),
    ).rejects.toThrow("failed");
    expect(vi.getTimerCount()).toBe(0);
    expect(added).toHaveLength(2);
    expect(removed).toEqual(added);
  });
});
