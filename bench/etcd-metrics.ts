/**
 * Server-side count of the calls etcd handled, from its Prometheus endpoint (`GET /metrics`,
 * `grpc_server_started_total` by method). The JSON gateway forwards every HTTP request as one gRPC call, so
 * this counts the HTTP clients and the gRPC client (etcd3) on the same scale.
 */
const LINE = /^grpc_server_started_total\{grpc_method="([^"]+)",[^}]*\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/;

export type CallCounts = Map<string, number>;

export async function grpcCalls(endpoint: string): Promise<CallCounts> {
  const res = await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET ${endpoint}/metrics: HTTP ${res.status}`);
  const counts: CallCounts = new Map();
  for (const line of (await res.text()).split("\n")) {
    const match = LINE.exec(line);
    if (match) counts.set(match[1] as string, (counts.get(match[1] as string) ?? 0) + Number(match[2]));
  }
  return counts;
}

/** Calls per method between two snapshots, methods with none left out. */
export function callsBetween(before: CallCounts, after: CallCounts): CallCounts {
  const diff: CallCounts = new Map();
  for (const [method, n] of after) {
    const d = n - (before.get(method) ?? 0);
    if (d > 0) diff.set(method, d);
  }
  return diff;
}
