/**
 * ZooKeeper backend configuration and path mapping without a server: option validation, lease names and
 * keys to znode paths, and the gateway's content negotiation.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { zookeeper } from "../../../adapters/zookeeper/index.ts";
import { ancestors, keyPath, leaderPath, splitPath, znodeUrl } from "../../../adapters/zookeeper/paths.ts";
import { negotiate } from "../../../packages/zk-gateway/src/http.ts";
import { InvalidArgumentError, validateName } from "../../../src/backend-kit.ts";

describe("zookeeper() options", () => {
  it("accepts a gateway URL with or without a context path and defaults the rest", () => {
    const backend = zookeeper({ url: "http://127.0.0.1:9998/" });
    expect(backend.kind).toBe("zookeeper");
    expect(backend.capabilities).toEqual({
      atomicGuard: true,
      minTtlMs: 2000,
      maxTtlMs: 2_147_483_000,
      ttlGranularityMs: 1000,
      compareTargets: ["version"],
    });
    expect(
      zookeeper({ url: "https://zk.example/zookeeper", extensions: "leasehold-v1" }).capabilities.atomicGuard,
    ).toBe(true);
    expect(zookeeper({ url: "http://x", extensions: "none" }).capabilities.atomicGuard).toBe(false);
  });

  it("names the offending option", () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ url: "ftp://x" }, "url"],
      [{ url: "not a url" }, "url"],
      [{ url: "http://u:p@x" }, "url"],
      [{ url: "http://x?y=1" }, "url"],
      [{ url: "http://x", prefix: "/" }, "prefix"],
      [{ url: "http://x", prefix: "a//b" }, "prefix"],
      [{ url: "http://x", prefix: "zookeeper/x" }, "prefix"],
      [{ url: "http://x", prefix: "a/../b" }, "prefix"],
      [{ url: "http://x", auth: { username: "a:b", password: "" } }, "auth.username"],
      [{ url: "http://x", auth: { username: "a", password: 1 } }, "auth.password"],
      [{ url: "http://x", extensions: "yes" }, "extensions"],
      [{ url: "http://x", transport: {} }, "transport"],
    ];
    for (const [options, field] of bad) {
      expect(() => zookeeper(options as never)).toThrow(expect.objectContaining({ field }));
    }
    expect(() => zookeeper(null as never)).toThrow(InvalidArgumentError);
  });
});

describe("znode paths", () => {
  it("puts every leader znode directly under the prefix, with '/' written as '^'", () => {
    expect(leaderPath("/leasehold", "jobs/nightly-report")).toBe("/leasehold/jobs^nightly-report");
    expect(leaderPath("/a/b", "x")).toBe("/a/b/x");
  });

  it("maps distinct lease names to distinct znodes", () => {
    const segment = fc.stringMatching(/^[a-z0-9._~:@+=,-]{1,6}$/).filter((s) => s !== "." && s !== "..");
    const name = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join("/"));
    fc.assert(
      fc.property(name, name, (a, b) => {
        validateName(a);
        validateName(b);
        return (a === b) === (leaderPath("/p", a) === leaderPath("/p", b));
      }),
    );
  });

  it("refuses names ZooKeeper cannot store (beyond U+FFFF, private use)", () => {
    expect(() => leaderPath("/p", "jobs/\u{1d400}")).toThrow(expect.objectContaining({ field: "name" }));
    expect(() => leaderPath("/p", "\ue000")).toThrow(InvalidArgumentError);
    expect(leaderPath("/p", "日本/ジョブ")).toBe("/p/日本^ジョブ");
  });

  it("maps keys to '/' + key and refuses what is not a relative znode path", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(keyPath(enc("jobs/last-run"), "k")).toBe("/jobs/last-run");
    for (const bad of ["/abs", "a//b", "a/", "a/./b", "..", "x\u0001"]) {
      expect(() => keyPath(enc(bad), "ops[0].key")).toThrow(expect.objectContaining({ field: "ops[0].key" }));
    }
    expect(() => keyPath(new Uint8Array([0xff]), "k")).toThrow(InvalidArgumentError);
  });

  it("splits paths and builds gateway URLs", () => {
    expect(ancestors("/a/b/c")).toEqual(["/a", "/a/b"]);
    expect(ancestors("/a")).toEqual([]);
    expect(splitPath("/a/b")).toEqual(["/a", "b"]);
    expect(splitPath("/a")).toEqual(["/", "a"]);
    expect(znodeUrl("http://gw", "/")).toBe("http://gw/znodes/v1/");
    expect(znodeUrl("http://gw", "/p/jobs^x y")).toBe("http://gw/znodes/v1/p/jobs%5Ex%20y");
  });
});

describe("gateway content negotiation", () => {
  const offered = ["application/json", "application/javascript", "application/octet-stream"];

  it("chooses as JAX-RS does", () => {
    expect(negotiate(undefined, offered)).toBe("application/json");
    expect(negotiate("*/*", offered)).toBe("application/json");
    expect(negotiate("application/octet-stream", offered)).toBe("application/octet-stream");
    expect(negotiate("application/*", offered)).toBe("application/json");
    expect(negotiate("application/json;q=0.5, application/octet-stream", offered)).toBe(
      "application/octet-stream",
    );
    expect(negotiate("text/html, application/javascript;q=0.1", offered)).toBe("application/javascript");
    expect(negotiate("*/*;q=0.1, application/json;q=0", offered)).toBe("application/javascript");
    expect(negotiate("text/html", offered)).toBeNull();
    expect(negotiate("application/xml", offered)).toBeNull();
  });
});
