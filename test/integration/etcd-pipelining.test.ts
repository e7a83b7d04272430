/**
 * What the Node transport puts on the wire to a real etcd, seen through a loopback proxy: after the claim's
 * read, a fresh claim's grant and txn travel on one connection in one write, both sent before etcd answers
 * either (one round trip), and keep-alive connections are reused across calls.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { undiciTransport } from "../../adapters/node/index.ts";
import { startTcpProxy, type TcpProxy } from "../../scripts/lib/tcp-proxy.ts";
import { createLease, fetchTransport, type Transport } from "../../src/index.ts";

const endpoint = inject("etcdEndpoint");
const target = { host: "127.0.0.1", port: Number(new URL(endpoint).port) };

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  transport: Transport,
): Promise<{ proxy: TcpProxy; claim: (name: string) => Promise<unknown> }> {
  const proxy = await startTcpProxy(target);
  cleanups.push(() => proxy.close());
  cleanups.push(() => transport.close?.() ?? Promise.resolve());
  const backend = etcd({ endpoints: [proxy.endpoint], prefix: `pipelining-${process.pid}/`, transport });
  return {
    proxy,
    claim: async (name) => {
      const lease = createLease({ backend, name, holder: "a", ttlMs: 3000 });
      const s = await lease.claim();
      expect(s.isLeader).toBe(true);
      return s;
    },
  };
}

/** The chunk in which `request` (e.g. "POST /v3/kv/txn") arrived. */
function arrival(proxy: TcpProxy, request: string) {
  const chunk = proxy.chunks.find((c) => c.text.includes(request));
  if (!chunk) throw new Error(`${request} never arrived`);
  return chunk;
}

describe("undiciTransport on the wire", () => {
  it("sends a fresh claim's grant and txn on one connection, in one write", async () => {
    const { proxy, claim } = await setup(undiciTransport());
    await claim("jobs/pipelined");
    const read = arrival(proxy, "POST /v3/kv/txn");
    const grant = arrival(proxy, "POST /v3/lease/grant");
    expect(read.text).not.toContain("POST /v3/lease/grant");
    // undici writes both requests in the same tick, so the proxy reads them as one chunk: one write, sent
    // before etcd answered either. (Pipelined sequences have connections of their own, apart from the pool.)
    expect(grant.text.match(/POST \/v3\/kv\/txn/g)).toHaveLength(1);
    expect(grant.afterFirstResponse).toBe(false);
  });

  it("reuses its connections: more claims and renewals open no new ones", async () => {
    const { proxy, claim } = await setup(undiciTransport());
    await claim("jobs/reuse-1");
    const opened = proxy.connections();
    for (let i = 2; i <= 5; i++) await claim(`jobs/reuse-${i}`);
    expect(proxy.connections()).toBe(opened);
  });

  it("for comparison, fetch sends the txn only after the grant's answer (one more round trip)", async () => {
    const { proxy, claim } = await setup(fetchTransport());
    await claim("jobs/sequential");
    expect(arrival(proxy, "POST /v3/lease/grant").text).not.toContain("POST /v3/kv/txn");
    expect(proxy.chunks.filter((c) => c.text.includes("POST /v3/kv/txn"))).toHaveLength(2);
  });
});
