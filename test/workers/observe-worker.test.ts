/**
 * An observing Worker inside workerd, on the real etcd: its fetch handler streams a lease's leader changes as
 * server-sent events, following etcd's watch (`POST /v3/watch` streamed with workerd's fetch), while other
 * handles claim, park, resume and release the lease.
 */
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { etcdFromEnv, etcdOptionsFromEnv } from "../../adapters/etcd/index.ts";
import { etcdWithWatch } from "../../adapters/etcd/watch.ts";
import { createLease, type ObserveEvent, observe } from "../../src/index.ts";

const encoder = new TextEncoder();

/** What one event says, as JSON (tokens as decimal strings). */
const toJson = (e: ObserveEvent) =>
  e.type === "change"
    ? {
        type: e.type,
        mode: e.mode,
        holder: e.leader?.holder ?? null,
        token: e.leader?.token.toString() ?? null,
        parked: e.leader?.parked ?? null,
      }
    : { type: e.type, mode: e.mode };

/** The Worker: `GET /leader-events?name=<lease>` streams the lease's changes until the client goes away. */
const observingWorker = {
  fetch(request: Request, workerEnv: Cloudflare.Env): Response {
    const name = new URL(request.url).searchParams.get("name") ?? "";
    // Ends the observation when the client goes away; a pending read ends with it.
    const gone = new AbortController();
    const events = observe(etcdWithWatch(etcdOptionsFromEnv({ ...workerEnv })), name, {
      signal: AbortSignal.any([request.signal, gone.signal]),
    });
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await events.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(`data: ${JSON.stringify(toJson(next.value))}\n\n`));
      },
      cancel() {
        gone.abort();
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  },
};

it("streams claim, park, resume and release of a lease as they happen, from etcd's watch", async () => {
  const name = `workerd/observed-${Date.now()}`;
  const res = observingWorker.fetch(new Request(`http://worker/leader-events?name=${name}`), env);
  expect(res.headers.get("content-type")).toBe("text/event-stream");
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  const nextEvent = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const end = buffered.indexOf("\n\n");
      if (end >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        return JSON.parse(line.replace(/^data: /, "")) as Record<string, unknown>;
      }
      const chunk = await reader.read();
      if (chunk.done) throw new Error("the event stream ended");
      buffered += decoder.decode(chunk.value, { stream: true });
    }
  };
  expect(await nextEvent()).toEqual({ type: "mode", mode: "watch" });
  expect(await nextEvent()).toMatchObject({ type: "change", mode: "watch", holder: null });

  const lease = (holder: string) =>
    createLease({ backend: etcdFromEnv({ ...env }), name, holder, ttlMs: 10_000 });
  const a = lease("worker-a");
  const { token } = await a.claim();
  await a.park();
  const resumed = lease("worker-a");
  await resumed.claim();
  await resumed.release();
  const seen = [await nextEvent(), await nextEvent(), await nextEvent(), await nextEvent()];
  expect(seen).toEqual([
    { type: "change", mode: "watch", holder: "worker-a", token: String(token), parked: false },
    { type: "change", mode: "watch", holder: "worker-a", token: String(token), parked: true },
    { type: "change", mode: "watch", holder: "worker-a", token: String(token), parked: false },
    { type: "change", mode: "watch", holder: null, token: null, parked: null },
  ]);
  await reader.cancel();
}, 15_000);
