/**
 * Round trips per operation on a real etcd, counted at the transport, against the table in docs/design.md.
 * Each exchange is one round trip: a single request, or a pipelined sequence (sent together on one connection).
 */
import { describe, expect, inject, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { undiciTransport } from "../../adapters/node/index.ts";
import { createLease, fetchTransport, type HttpRequest, type Transport } from "../../src/index.ts";

/** Records the paths of each exchange the backend makes through `base`. */
function countingTransport(base: Transport): Transport & { take(): string[][] } {
  let seen: string[][] = [];
  const path = (req: HttpRequest) => new URL(req.url).pathname;
  const counting: Transport & { take(): string[][] } = {
    take() {
      const out = seen;
      seen = [];
      return out;
    },
    request(req) {
      seen.push([path(req)]);
      return base.request(req);
    },
    close: () => base.close?.() ?? Promise.resolve(),
  };
  const { pipeline } = base;
  if (pipeline) {
    counting.pipeline = (reqs) => {
      seen.push(reqs.map(path));
      return pipeline.call(base, reqs);
    };
  }
  return counting;
}

const TXN = "/v3/kv/txn";
const GRANT = "/v3/lease/grant";
const KEEPALIVE = "/v3/lease/keepalive";
const REVOKE = "/v3/lease/revoke";

/** docs/design.md's round trips, as the exchanges of a pipelining transport. */
const EXPECTED = {
  claimFree: [[TXN], [GRANT, TXN]],
  renew: [[KEEPALIVE]],
  leader: [[TXN]],
  doIfLeader: [[TXN]],
  claimHeldByAnother: [[TXN]],
  claimBusy: [[TXN]],
  park: [[TXN]],
  resume: [[TXN], [TXN, KEEPALIVE]],
  release: [[REVOKE]],
};

/** Without pipelining, each request of a sequence is a round trip of its own, in the same order. */
const sequential = (exchanges: string[][]) => exchanges.flat().map((p) => [p]);

describe.each([
  { label: "undici transport, pipelined", base: () => undiciTransport(), shape: (x: string[][]) => x },
  { label: "fetch transport, no pipelining", base: () => fetchTransport(), shape: sequential },
])("etcd round trips ($label)", ({ base, shape }) => {
  it("meet docs/design.md's table", async () => {
    const transport = countingTransport(base());
    const backend = etcd({
      endpoints: [inject("etcdEndpoint")],
      prefix: `round-trips-${Date.now()}-${Math.floor(Math.random() * 1e9)}/`,
      transport,
    });
    const mk = (holder: string) => createLease({ backend, name: "jobs/count", holder, ttlMs: 5000 });
    const expectExchanges = (expected: string[][]) => expect(transport.take()).toEqual(shape(expected));
    try {
      const a = mk("a");
      expect((await a.claim()).isLeader).toBe(true);
      expectExchanges(EXPECTED.claimFree);

      await a.renew();
      expectExchanges(EXPECTED.renew);
      expect((await a.claim()).isLeader).toBe(true);
      expectExchanges(EXPECTED.renew);

      expect((await a.leader())?.holder).toBe("a");
      expectExchanges(EXPECTED.leader);

      const write = [{ type: "put" as const, key: `rt-${Date.now()}`, value: "1" }];
      expect((await a.doIfLeader(write)).applied).toBe(true);
      expectExchanges(EXPECTED.doIfLeader);

      expect(await mk("b").claim()).toMatchObject({ isLeader: false, busy: false, holder: "a" });
      expectExchanges(EXPECTED.claimHeldByAnother);

      expect(await mk("a").claim()).toMatchObject({ isLeader: false, busy: true, holder: "a" });
      expectExchanges(EXPECTED.claimBusy);

      await a.park();
      expectExchanges(EXPECTED.park);

      const next = mk("a");
      expect((await next.claim()).isLeader).toBe(true);
      expectExchanges(EXPECTED.resume);

      await next.release();
      expectExchanges(EXPECTED.release);
    } finally {
      await backend.close?.();
    }
  });
});
