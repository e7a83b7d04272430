/** The machine a run measured: CPU, memory, OS, Node and etcd versions, and load before and after. */
import { cpus, freemem, loadavg, release, totalmem, type } from "node:os";

export interface MachineInfo {
  cpu: string;
  cores: number;
  memory: string;
  os: string;
  node: string;
  etcd: string;
  loadBefore: string;
  loadAfter?: string;
  date: string;
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");

export async function machineInfo(endpoint: string): Promise<MachineInfo> {
  const res = await fetch(`${endpoint}/version`, { signal: AbortSignal.timeout(5000) });
  const version = (await res.json()) as { etcdserver?: string };
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free)`,
    os: `${type()} ${release()}`,
    node: process.version,
    etcd: version.etcdserver ?? "unknown",
    loadBefore: load(),
    date: new Date().toISOString(),
  };
}

/** Records the load average at the end of the run. */
export function finishMachineInfo(info: MachineInfo): void {
  info.loadAfter = load();
}
