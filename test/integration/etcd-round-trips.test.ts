/**
 * Round trips per operation on a real etcd, counted at the transport, against the table in DESIGN.md.
 */
import { describe, expect, inject, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { createLease, fetchTransport, type HttpRequest, type Transport } from "../../src/index.ts";

function countingTransport(): Transport & { take(): string[] } {
  const base = fetchTransport();
  let seen: string[] = [];
  return {
    take() {
      const out = seen;
      seen = [];
      return out;
    },
    request(req: HttpRequest) {
      seen.push(new URL(req.url).pathname);
      return base.request(req);
    },
  };
}

describe("etcd round trips (fetch transport, no pipelining)", () => {
  it("meet DESIGN.md's table", async () => {
    const transport = countingTransport();
    const backend = etcd({
      endpoints: [inject("etcdEndpoint")],
      prefix: `round-trips-${Date.now()}/`,
      transport,
    });
    const mk = (holder: string) => createLease({ backend, name: "jobs/count", holder, ttlMs: 5000 });
    const a = mk("a");
    const b = mk("b");

    expect((await a.claim()).isLeader).toBe(true);
    expect(transport.take()).toEqual(["/v3/lease/grant", "/v3/kv/txn"]);

    await a.renew();
    expect(transport.take()).toEqual(["/v3/lease/keepalive"]);

    await a.claim();
    expect(transport.take()).toEqual(["/v3/lease/keepalive"]);

    await a.leader();
    expect(transport.take()).toEqual(["/v3/kv/range"]);

    expect((await a.doIfLeader([{ type: "put", key: `rt-${Date.now()}`, value: "1" }])).applied).toBe(true);
    expect(transport.take()).toEqual(["/v3/kv/txn"]);

    expect((await b.claim()).isLeader).toBe(false);
    expect(transport.take()).toEqual(["/v3/lease/grant", "/v3/kv/txn"]);

    await a.release();
    expect(transport.take()).toEqual(["/v3/lease/revoke"]);
  });
});
