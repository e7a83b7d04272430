/**
 * Failover on a real 3-member etcd cluster started on loopback: the member in use (made the raft leader, the
 * hardest case) is killed mid-run; renewals must carry on through another member within one request deadline,
 * and nothing may report leadership wrongly during the switch.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { undiciTransport } from "../../adapters/node/index.ts";
import { type EtcdCluster, startEtcdCluster } from "../../scripts/lib/etcd-cluster.ts";
import { etcd35Binary } from "../../scripts/lib/etcd-server.ts";
import { createLease, type HttpRequest, type LeaseState, type Transport } from "../../src/index.ts";

const TTL_MS = 9000;
/** The default deadline of a call: a third of the TTL. */
const DEADLINE_MS = TTL_MS / 3;
/**
 * A LAN-like raft timing (etcd defaults: 100 ms, 1000 ms): when the raft leader dies, every member waits for a
 * new leader (measured here: 0.8 to 1.2 s) before it renews a lease, so the deadline must exceed that.
 */
const RAFT_ARGS = ["--heartbeat-interval=50", "--election-timeout=500"];

/** Records the endpoint of every request, so the test can see where renewals went. */
function recording(base: Transport): Transport & { origins: string[] } {
  const origins: string[] = [];
  return {
    origins,
    request(req: HttpRequest) {
      origins.push(new URL(req.url).origin);
      return base.request(req);
    },
    pipeline(reqs: readonly HttpRequest[]) {
      for (const req of reqs) origins.push(new URL(req.url).origin);
      return base.pipeline?.(reqs) ?? reqs.map((r) => base.request(r));
    },
    close: () => base.close?.() ?? Promise.resolve(),
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const versions = [
  { version: "3.4", binary: undefined },
  { version: "3.5", binary: etcd35Binary() },
];

describe.each(versions)("etcd $version cluster failover", ({ binary }) => {
  let cluster: EtcdCluster;
  let ordered: string[];
  const transports: Transport[] = [];

  beforeAll(async () => {
    cluster = await startEtcdCluster({ args: RAFT_ARGS, ...(binary ? { binary } : {}) });
    const leader = await cluster.leaderIndex();
    ordered = [cluster.endpoints[leader] as string, ...cluster.endpoints.filter((_, i) => i !== leader)];
  }, 60_000);

  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close?.()));
    await cluster?.stop();
  });

  const backend = (endpoints: string[]) => {
    const transport = recording(undiciTransport());
    transports.push(transport);
    return { transport, backend: etcd({ endpoints, transport, prefix: "cluster-test/" }) };
  };

  it("keeps renewing through another member when the member in use is killed", async () => {
    const a = backend(ordered);
    // The contender prefers a member that survives, so it keeps observing during the switch.
    const b = backend([...ordered].reverse());
    const holder = createLease({ backend: a.backend, name: "jobs/failover", holder: "a", ttlMs: TTL_MS });
    const contender = createLease({ backend: b.backend, name: "jobs/failover", holder: "b", ttlMs: TTL_MS });

    const first = await holder.claim();
    expect(first.isLeader).toBe(true);
    const token = first.token;
    expect(token).not.toBeNull();

    const killed = ordered[0] as string;
    const renewals: { ms: number; state: LeaseState; afterKill: boolean }[] = [];
    const observed: LeaseState[] = [];
    let killedAt = 0;
    for (let round = 0; round < 8; round++) {
      if (round === 3) {
        const member = cluster.members[cluster.endpoints.indexOf(killed)];
        member?.process.kill("SIGKILL");
        killedAt = performance.now();
      }
      const started = performance.now();
      const renewed = holder.renew().then((state) => ({ state, ms: performance.now() - started }));
      const [{ state, ms }, seen] = await Promise.all([
        renewed,
        contender.claim().catch((error: unknown) => error as LeaseState),
      ]);
      renewals.push({ ms, state, afterKill: killedAt > 0 });
      observed.push(seen);
      await pause(300);
    }

    // Every renewal succeeded, kept the term, and took less than one request deadline, also across the kill.
    for (const r of renewals) {
      expect(r.state).toMatchObject({ isLeader: true, holder: "a", token });
      expect(r.ms).toBeLessThan(DEADLINE_MS);
    }
    // After the kill, renewals went to a surviving member.
    const afterKill = a.transport.origins.slice(a.transport.origins.lastIndexOf(killed) + 1);
    expect(afterKill.length).toBeGreaterThan(0);
    expect(afterKill).not.toContain(killed);
    // The contender never saw itself leader; whenever it got an answer, it named the holder's term.
    for (const seen of observed) {
      if (seen instanceof Error) {
        expect(seen).toMatchObject({ retryable: true });
        continue;
      }
      expect(seen).toMatchObject({ isLeader: false, holder: "a", token });
    }
    expect(contender.state().isLeader).toBe(false);

    // The guarded txn commits through the new member, under the same term.
    const applied = await holder.doIfLeader([{ type: "put", key: "cluster-data/failover", value: "done" }]);
    expect(applied.applied).toBe(true);

    // A resignation hands over at once, with a larger fencing token.
    await holder.release();
    const next = await contender.claim();
    expect(next.isLeader).toBe(true);
    expect(next.token).toBeGreaterThan(token as bigint);
    console.info(
      `failover: renewal right after the kill took ${Math.round(renewals.find((r) => r.afterKill)?.ms ?? -1)} ms (deadline ${DEADLINE_MS} ms)`,
    );
  });

  it("claims through a surviving member when the first endpoint is down", async () => {
    const dead = cluster.members.find((m) => m.process.signalCode !== null || m.process.exitCode !== null);
    expect(dead).toBeDefined();
    const endpoints = [dead?.endpoint as string, ...cluster.endpoints.filter((e) => e !== dead?.endpoint)];
    const { transport, backend: c } = backend(endpoints);
    const lease = createLease({ backend: c, name: "jobs/after-kill", holder: "c", ttlMs: TTL_MS });
    const s = await lease.claim();
    expect(s.isLeader).toBe(true);
    expect(await lease.leader()).toMatchObject({ holder: "c", token: s.token, leaseId: s.leaseId });
    // The claim's read meets the dead member first; everything after it goes to a live one.
    expect(transport.origins[0]).toBe(dead?.endpoint);
    expect(transport.origins.slice(1)).not.toContain(dead?.endpoint);
    await lease.release();
  });
});
