/**
 * Starts a throwaway etcd cluster (default 3 members) on free loopback ports with temp data dirs, for the
 * failover tests. Members start together, since none is healthy before a quorum is up.
 */
import { type EtcdServer, type StartEtcdOptions, startEtcd } from "./etcd-server.ts";
import { freePort } from "./free-port.ts";

export interface EtcdCluster {
  members: EtcdServer[];
  /** Client URLs, in member order. */
  endpoints: string[];
  /** Index of the member that is raft leader now (asked through `/v3/maintenance/status` of a live member). */
  leaderIndex(): Promise<number>;
  /** Stops every member still running and deletes the data dirs. */
  stop(): Promise<void>;
}

export interface StartEtcdClusterOptions
  extends Pick<StartEtcdOptions, "binary" | "args" | "startTimeoutMs"> {
  size?: number;
}

interface MemberStatus {
  header?: { member_id?: string };
  leader?: string;
}

async function status(endpoint: string): Promise<MemberStatus> {
  const res = await fetch(`${endpoint}/v3/maintenance/status`, {
    method: "POST",
    body: "{}",
    signal: AbortSignal.timeout(2000),
  });
  if (!res.ok) throw new Error(`status of ${endpoint}: HTTP ${res.status}`);
  return (await res.json()) as MemberStatus;
}

export async function startEtcdCluster(options: StartEtcdClusterOptions = {}): Promise<EtcdCluster> {
  const size = options.size ?? 3;
  const ports: { name: string; client: number; peer: number }[] = [];
  for (let i = 0; i < size; i++) {
    ports.push({ name: `member-${i}`, client: await freePort(), peer: await freePort() });
  }
  const initialCluster = ports.map((p) => `${p.name}=http://127.0.0.1:${p.peer}`).join(",");
  const started = await Promise.allSettled(
    ports.map((p) =>
      startEtcd({
        ...options,
        name: p.name,
        clientPort: p.client,
        peerPort: p.peer,
        initialCluster,
      }),
    ),
  );
  const members = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const stop = async () => {
    await Promise.all(members.map((m) => m.stop()));
  };
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const endpoints = members.map((m) => m.endpoint);
  const leaderIndex = async () => {
    for (const member of members) {
      if (member.process.exitCode !== null || member.process.signalCode !== null) continue;
      const { leader } = await status(member.endpoint);
      for (let i = 0; i < members.length; i++) {
        const m = members[i] as EtcdServer;
        if (m.process.exitCode !== null || m.process.signalCode !== null) continue;
        if ((await status(m.endpoint)).header?.member_id === leader) return i;
      }
    }
    throw new Error("no live member reports a live leader");
  };
  return { members, endpoints, leaderIndex, stop };
}
