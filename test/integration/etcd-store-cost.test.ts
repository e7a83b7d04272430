/**
 * What leasehold's calls cost etcd, read from etcd itself: raft proposals committed (`/metrics`) and leases it
 * holds (`/v3/lease/leases`). A losing claim must cost nothing. On an etcd of its own, so that no other test
 * file's writes land in the measurement.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { leaseIds, proposalsCommitted, waitForClusterVersion } from "../../scripts/lib/etcd-counters.ts";
import { type EtcdServer, startEtcd } from "../../scripts/lib/etcd-server.ts";
import { type Backend, createLease, type Lease } from "../../src/index.ts";

const LOSERS = 100;
const name = "jobs/cost";

let server: EtcdServer;
let backend: Backend;

beforeAll(async () => {
  server = await startEtcd();
  await waitForClusterVersion(server.endpoint);
  backend = etcd({ endpoints: [server.endpoint], prefix: "cost/" });
});
afterAll(async () => {
  await backend?.close?.();
  await server?.stop();
});

const lease = (holder: string, leaseName = name): Lease =>
  createLease({ backend, name: leaseName, holder, ttlMs: 60_000 });

interface Cost {
  proposals: number;
  leases: number;
}

/** What `fn` made etcd commit and hold (proposals and leases, after minus before), and what it returned. */
async function cost<T>(fn: () => Promise<T>): Promise<[Cost, T]> {
  const { endpoint } = server;
  const [proposals, leases] = [await proposalsCommitted(endpoint), (await leaseIds(endpoint)).length];
  const result = await fn();
  const after = { proposals: await proposalsCommitted(endpoint), leases: (await leaseIds(endpoint)).length };
  return [{ proposals: after.proposals - proposals, leases: after.leases - leases }, result];
}

describe("etcd store cost of each claim outcome", () => {
  it("losing claims write nothing and leave nothing; a free claim, park, resume and release cost what they must", async () => {
    const owner = lease("owner");
    const [freeClaim, term] = await cost(() => owner.claim());
    expect(term.isLeader).toBe(true);
    expect(freeClaim).toEqual({ proposals: 2, leases: 1 });

    const [heldByAnother] = await cost(async () => {
      for (let i = 0; i < LOSERS; i++) {
        const state = await lease(`contender-${i}`).claim();
        expect(state).toMatchObject({ isLeader: false, busy: false, holder: "owner", token: term.token });
      }
    });
    expect(heldByAnother).toEqual({ proposals: 0, leases: 0 });

    const [busy] = await cost(async () => {
      for (let i = 0; i < LOSERS; i++) {
        const state = await lease("owner").claim();
        expect(state).toMatchObject({ isLeader: false, busy: true, holder: "owner", token: term.token });
      }
    });
    expect(busy).toEqual({ proposals: 0, leases: 0 });

    expect((await cost(() => owner.park()))[0]).toEqual({ proposals: 1, leases: 0 });

    const next = lease("owner");
    const [resume, held] = await cost(() => next.claim());
    expect(held).toMatchObject({ isLeader: true, token: term.token, leaseId: term.leaseId });
    expect(resume).toEqual({ proposals: 1, leases: 0 });

    expect((await cost(() => next.release()))[0]).toEqual({ proposals: 1, leases: -1 });
    expect(await leaseIds(server.endpoint)).toEqual([]);
  });
});
