/**
 * Records the wire fixtures of the fuzz tests (test/fuzz): real exchanges of every backend operation with a
 * real etcd (auth enabled) and with leasehold-zk-gateway (basic auth) on a real ZooKeeper. Each step runs on a
 * fresh backend, with fixed claim IDs, so that replaying its answers in order reproduces it exactly.
 *
 *   node --conditions=leasehold-source scripts/record-fixtures.ts
 *
 * writes test/fixtures/etcd-exchanges.json and zookeeper-exchanges.json (the condition runs the gateway
 * server's `leasehold/...` imports from source).
 */
import { writeFile } from "node:fs/promises";
import { etcd } from "../adapters/etcd/index.ts";
import { zookeeper } from "../adapters/zookeeper/index.ts";
import { createZkGateway } from "../packages/zk-gateway/src/server.ts";
import { startEtcd } from "../scripts/lib/etcd-server.ts";
import { startZooKeeper } from "../scripts/lib/zookeeper-server.ts";
import {
  type Backend,
  deadlineSignal,
  fetchTransport,
  type HttpRequest,
  type TermRef,
  type Transport,
} from "../src/backend-kit.ts";
import {
  type Exchange,
  type Fixture,
  runStep,
  STEP_PLAN,
  type Step,
  toJsonValue,
} from "../test/fuzz/steps.ts";

const USER = "fuzz";
const PASSWORD = "Fz-pw-9b3e-secret";
const b64 = (text: string) => Buffer.from(text).toString("base64");

/** Records every exchange; fetchTransport never pipelines, so the order is the backend's. */
function recording(base: Transport, origin: string) {
  let log: Exchange[] = [];
  const transport: Transport = {
    async request(req: HttpRequest) {
      const res = await base.request(req);
      const url = new URL(req.url);
      if (url.origin !== origin) throw new Error(`unexpected origin ${url.origin}`);
      log.push({
        method: req.method,
        path: url.pathname + url.search,
        requestBody: typeof req.body === "string" ? req.body : Buffer.from(req.body ?? []).toString("utf8"),
        status: res.status,
        contentType: res.headers["content-type"] ?? null,
        body: res.body,
      });
      return res;
    },
  };
  return {
    transport,
    take(): Exchange[] {
      const taken = log;
      log = [];
      return taken;
    },
  };
}

async function record(kind: "etcd" | "zookeeper", origin: string, make: (t: Transport) => Backend) {
  const rec = recording(fetchTransport(), origin);
  const steps: Step[] = [];
  const terms = new Map<string, TermRef>();
  for (const plan of STEP_PLAN) {
    const backend = make(rec.transport);
    const ctx = { signal: deadlineSignal(5000), timeoutMs: 5000 };
    const { input, outcome } = await runStep(backend, plan, terms, ctx);
    steps.push({ ...plan, input: toJsonValue(input), outcome: toJsonValue(outcome), exchanges: rec.take() });
    await backend.close?.();
  }
  const fixture: Fixture = { backend: kind, username: USER, password: PASSWORD, steps };
  await writeFile(`test/fixtures/${kind}-exchanges.json`, `${JSON.stringify(fixture, null, 1)}\n`);
  console.log(
    `${kind}: ${steps.length} steps, ${steps.reduce((n, s) => n + s.exchanges.length, 0)} exchanges`,
  );
}

async function admin(endpoint: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${endpoint}${path}`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
}

async function recordEtcd(): Promise<void> {
  const server = await startEtcd();
  try {
    const ep = server.endpoint;
    await admin(ep, "/v3/auth/role/add", { name: "root" });
    await admin(ep, "/v3/auth/user/add", { name: "root", password: "root-pw" });
    await admin(ep, "/v3/auth/user/grant", { user: "root", role: "root" });
    await admin(ep, "/v3/auth/role/add", { name: "fuzz" });
    await admin(ep, "/v3/auth/role/grant", {
      name: "fuzz",
      perm: { permType: "READWRITE", key: b64("fuzz/"), range_end: b64("fuzz0") },
    });
    await admin(ep, "/v3/auth/user/add", { name: USER, password: PASSWORD });
    await admin(ep, "/v3/auth/user/grant", { user: USER, role: "fuzz" });
    await admin(ep, "/v3/auth/enable", {});
    await record("etcd", ep, (transport) =>
      etcd({
        endpoints: [ep],
        prefix: "fuzz/leases/",
        auth: { username: USER, password: PASSWORD },
        transport,
      }),
    );
  } finally {
    await server.stop();
  }
}

async function recordZooKeeper(): Promise<void> {
  const zk = await startZooKeeper();
  const gateway = createZkGateway({
    zookeeper: zk.connectString,
    port: 0,
    credentials: new Map([[USER, PASSWORD]]),
  });
  try {
    const url = await gateway.listen();
    await record("zookeeper", new URL(url).origin, (transport) =>
      zookeeper({
        url,
        prefix: "/fuzz/leases",
        auth: { username: USER, password: PASSWORD },
        extensions: "leasehold-v1",
        transport,
      }),
    );
  } finally {
    await gateway.close({ sessions: "close" });
    await zk.stop();
  }
}

await recordEtcd();
await recordZooKeeper();
