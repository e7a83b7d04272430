/**
 * Deadlines on a real etcd, behind a loopback proxy that can stall: a hung request never outlives the call's
 * deadline nor the term's `validUntil`, and failover to another endpoint happens inside that same deadline.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { undiciTransport } from "../../adapters/node/index.ts";
import { startTcpProxy, type TcpProxy } from "../../scripts/lib/tcp-proxy.ts";
import { createLease, LeaseTimeoutError, type Transport } from "../../src/index.ts";

const endpoint = inject("etcdEndpoint");
const target = { host: "127.0.0.1", port: Number(new URL(endpoint).port) };
/** Timers fire late when the machine is busy; a call may settle this much after its deadline. */
const TIMER_SLACK_MS = 150;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function proxy(): Promise<TcpProxy> {
  const p = await startTcpProxy(target);
  cleanups.push(() => p.close());
  return p;
}

function transport(): Transport {
  const t = undiciTransport();
  cleanups.push(() => t.close?.() ?? Promise.resolve());
  return t;
}

let run = 0;
const name = () => `jobs/deadline-${process.pid}-${run++}`;

describe("etcd deadlines", () => {
  it("a hung renewal fails with LeaseTimeoutError at requestTimeoutMs, and validity is not extended", async () => {
    const p = await proxy();
    const backend = etcd({ endpoints: [p.endpoint], prefix: "deadline-test/", transport: transport() });
    const a = createLease({ backend, name: name(), holder: "a", ttlMs: 3000, requestTimeoutMs: 400 });
    const held = await a.claim();
    p.stall(true);
    const started = performance.now();
    await expect(a.renew()).rejects.toBeInstanceOf(LeaseTimeoutError);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(400 + TIMER_SLACK_MS);
    expect(a.state().validUntil).toBe(held.validUntil);
  });

  it("while a term is held, the deadline is cut to validUntil: no request outlives the term", async () => {
    const p = await proxy();
    const backend = etcd({ endpoints: [p.endpoint], prefix: "deadline-test/", transport: transport() });
    // validUntil = send time + 2000 - 900 ms: well before the 2000 ms request timeout.
    const a = createLease({
      backend,
      name: name(),
      holder: "a",
      ttlMs: 2000,
      requestTimeoutMs: 2000,
      driftMarginMs: 900,
    });
    const held = await a.claim();
    const validUntil = held.validUntil as number;
    p.stall(true);
    await expect(a.renew()).rejects.toBeInstanceOf(LeaseTimeoutError);
    expect(Date.now()).toBeLessThanOrEqual(validUntil + TIMER_SLACK_MS);
    expect(Date.now()).toBeGreaterThanOrEqual(validUntil - TIMER_SLACK_MS);
    expect(a.state().isLeader).toBe(false);
  });

  it("fails over from a hung member within the same deadline", async () => {
    const hung = await proxy();
    const backend = etcd({
      endpoints: [hung.endpoint, endpoint],
      prefix: "deadline-test/",
      transport: transport(),
    });
    const a = createLease({ backend, name: name(), holder: "a", ttlMs: 3000, requestTimeoutMs: 1000 });
    hung.stall(true);
    const started = performance.now();
    const s = await a.claim();
    const elapsed = performance.now() - started;
    expect(s.isLeader).toBe(true);
    // The hung member got half of the deadline; the next member answered in the other half.
    expect(elapsed).toBeGreaterThanOrEqual(490);
    expect(elapsed).toBeLessThan(1000);
    // The preference moved to the member that answered: the next renewal does not wait.
    const renewStarted = performance.now();
    expect((await a.renew()).isLeader).toBe(true);
    expect(performance.now() - renewStarted).toBeLessThan(250);
    await a.release();
  });

  it("gives up at the call's deadline when every member hangs", async () => {
    const [one, two] = [await proxy(), await proxy()];
    one.stall(true);
    two.stall(true);
    const backend = etcd({
      endpoints: [one.endpoint, two.endpoint],
      prefix: "deadline-test/",
      transport: transport(),
    });
    const a = createLease({ backend, name: name(), holder: "a", ttlMs: 3000, requestTimeoutMs: 600 });
    const started = performance.now();
    await expect(a.claim()).rejects.toBeInstanceOf(LeaseTimeoutError);
    expect(performance.now() - started).toBeLessThan(600 + TIMER_SLACK_MS);
    expect(a.state().isLeader).toBe(false);
  });
});
