/**
 * What an etcd server has written and what it holds, read from outside any client: the raft proposals it has
 * committed (`etcd_server_proposals_committed_total` on `GET /metrics`) and the leases it holds
 * (`POST /v3/lease/leases`). Neither read is itself a raft proposal, so the store-cost tests and the benchmarks
 * can take them around a call to see what that call wrote.
 */

const PROPOSALS = /^etcd_server_proposals_committed_total (\S+)$/m;

async function ok(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

/** The raft proposals etcd has committed so far (a gauge: its commit index). */
export async function proposalsCommitted(endpoint: string): Promise<number> {
  const what = `GET ${endpoint}/metrics`;
  const res = await ok(await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(5000) }), what);
  const match = PROPOSALS.exec(await res.text());
  const n = Number(match?.[1]);
  if (!Number.isFinite(n)) throw new Error(`${what}: no etcd_server_proposals_committed_total`);
  return n;
}

/** The IDs (decimal strings) of the leases etcd holds now, granted by anyone. */
export async function leaseIds(endpoint: string): Promise<string[]> {
  const what = `POST ${endpoint}/v3/lease/leases`;
  const res = await ok(
    await fetch(`${endpoint}/v3/lease/leases`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
      signal: AbortSignal.timeout(5000),
    }),
    what,
  );
  const body = (await res.json()) as { leases?: { ID?: string }[] };
  return (body.leases ?? []).map((l) => {
    if (typeof l.ID !== "string") throw new Error(`${what}: a lease without an ID`);
    return l.ID;
  });
}

/**
 * Waits until a fresh etcd has decided its cluster version. Until then it proposes that decision by itself
 * (a few seconds after start), which would show up as a proposal nobody's call made.
 */
export async function waitForClusterVersion(endpoint: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${endpoint}/version`, { signal: AbortSignal.timeout(1000) });
    const { etcdcluster } = (await res.json()) as { etcdcluster?: string };
    if (etcdcluster && etcdcluster !== "not_decided") return;
    if (Date.now() > deadline)
      throw new Error(`etcd at ${endpoint}: no cluster version after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
