/**
 * `capabilities` of the ZooKeeper backend: one frozen object fixed by `extensions`, whatever detection later
 * finds; detection decides only which way `txn` goes, and a transaction never runs while it is unknown.
 */
import { describe, expect, it } from "vitest";
import { zookeeper } from "../../../adapters/zookeeper/index.ts";
import {
  type HttpRequest,
  type HttpResponse,
  HttpStatusError,
  type TermRef,
  type Transport,
  UnsupportedError,
} from "../../../src/backend-kit.ts";

/** Answers `GET /leasehold/v1` with the scripted statuses in turn, everything else 404; records each URL. */
function scriptedGateway(probes: number[]) {
  const seen: string[] = [];
  const transport: Transport = {
    async request(req: HttpRequest): Promise<HttpResponse> {
      const path = new URL(req.url).pathname;
      seen.push(`${req.method} ${path}`);
      if (path === "/leasehold/v1") {
        const status = probes.shift() ?? 599;
        const body = status === 200 ? '{"extensions":["multi"]}' : '{"message":"no"}';
        return { status, headers: {}, body };
      }
      return { status: 404, headers: {}, body: "" };
    },
  };
  return { transport, seen };
}

const term: TermRef = {
  name: "jobs",
  holder: "a",
  leaseId: "1",
  token: 2n ** 60n,
  ttlMs: 10_000,
  hold: "h",
};
const txn = {
  term,
  ops: [{ type: "put" as const, key: new TextEncoder().encode("k"), value: new Uint8Array(1) }],
  compares: [],
};
const ctx = () => ({ signal: new AbortController().signal });

describe("ZooKeeper capabilities", () => {
  it.each([
    ["auto", true],
    ["leasehold-v1", true],
    ["none", false],
  ] as const)("%s: atomicGuard %s, frozen at construction", (extensions, atomicGuard) => {
    const backend = zookeeper({ url: "http://zk.invalid", extensions });
    expect(backend.capabilities.atomicGuard).toBe(atomicGuard);
    expect(Object.isFrozen(backend.capabilities)).toBe(true);
    expect(backend.capabilities).toBe(backend.capabilities);
  });

  it("auto, gateway without the extension: the same object after detection, and txn refuses having sent only the probe", async () => {
    const { transport, seen } = scriptedGateway([404]);
    const backend = zookeeper({ url: "http://zk.invalid", transport });
    const before = backend.capabilities;
    await expect(backend.txn(txn, ctx())).rejects.toBeInstanceOf(UnsupportedError);
    await expect(backend.txn(txn, ctx())).rejects.toBeInstanceOf(UnsupportedError);
    expect(backend.capabilities).toBe(before);
    expect(before.atomicGuard).toBe(true);
    expect(seen).toEqual(["GET /leasehold/v1"]);
  });

  it("auto, probe failing: txn throws the probe's error and sends nothing else; a later txn asks again", async () => {
    const { transport, seen } = scriptedGateway([503, 503, 404]);
    const backend = zookeeper({ url: "http://zk.invalid", transport });
    const error = await backend.txn(txn, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ status: 503 });
    expect(seen).toEqual(["GET /leasehold/v1", "GET /leasehold/v1"]);
    await expect(backend.txn(txn, ctx())).rejects.toBeInstanceOf(UnsupportedError);
    expect(seen).toEqual(["GET /leasehold/v1", "GET /leasehold/v1", "GET /leasehold/v1"]);
  });

  it("none: txn goes the non-atomic way without a probe", async () => {
    const { transport, seen } = scriptedGateway([]);
    const backend = zookeeper({ url: "http://zk.invalid", transport, extensions: "none" });
    expect(await backend.txn(txn, ctx())).toEqual({ applied: false, reason: "not-leader" });
    expect(seen).not.toContain("GET /leasehold/v1");
    expect(seen[0]).toBe("GET /znodes/v1/leasehold/jobs");
  });
});
