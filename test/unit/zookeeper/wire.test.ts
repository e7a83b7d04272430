/**
 * The ZooKeeper wire codecs without a server: exact 64-bit parsing of gateway JSON (zxids and session IDs
 * beyond 2^53, as the gateway renders them), the leader record, and the gateway's JSON writer quirks.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseExactJson } from "../../../adapters/zookeeper/exact-json.ts";
import { decodeLeaderRecord, encodeLeaderRecord } from "../../../adapters/zookeeper/record.ts";
import { parseWire, statEntity as statSchema, toKeyValue } from "../../../adapters/zookeeper/wire.ts";
import { jsonObject, statEntity } from "../../../packages/zk-gateway/src/render.ts";
import type { ZStat } from "../../../packages/zk-gateway/src/zk.ts";
import { decodeHolderRecord, MalformedResponseError } from "../../../src/backend-kit.ts";

const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

function stat(overrides: Partial<ZStat> = {}): ZStat {
  return {
    czxid: 0x7fff_fff0_0000_0001n,
    mzxid: 0x7fff_fff0_0000_0002n,
    ctime: 1_795_272_264_666n,
    mtime: 1_795_272_264_667n,
    version: 3,
    cversion: 0,
    aversion: 0,
    ephemeralOwner: 72_057_652_049_215_492n,
    dataLength: 2,
    numChildren: 0,
    pzxid: 0x7fff_fff0_0000_0001n,
    ...overrides,
  };
}

describe("exact JSON", () => {
  it("reads the long stat fields from their source text, beyond 2^53", () => {
    const text = statEntity("/a", "http://gw/znodes/v1/a", Buffer.from("hi"), "base64", stat());
    expect(text).toContain('"czxid":9223371968135299073');
    const parsed = parseWire(statSchema, text, "test");
    expect(parsed.czxid).toBe(0x7fff_fff0_0000_0001n);
    expect(parsed.ephemeralOwner).toBe(72_057_652_049_215_492n);
    expect(toKeyValue(new Uint8Array([97]), parsed, "test")).toMatchObject({
      createRevision: 0x7fff_fff0_0000_0001n,
      modRevision: 0x7fff_fff0_0000_0002n,
      version: 4n,
      value: new TextEncoder().encode("hi"),
    });
  });

  it("round-trips every int64 the gateway can write", () => {
    fc.assert(
      fc.property(int64, int64, int64, (czxid, mzxid, ephemeralOwner) => {
        const text = statEntity("/x", "u", null, "base64", stat({ czxid, mzxid, ephemeralOwner }));
        const parsed = parseWire(statSchema, text, "test");
        return parsed.czxid === czxid && parsed.mzxid === mzxid && parsed.ephemeralOwner === ephemeralOwner;
      }),
    );
  });

  it("leaves other numbers as numbers, and rejects non-integer longs and bad JSON", () => {
    expect(parseExactJson('{"version":3,"czxid":5}', "t")).toEqual({ version: 3, czxid: 5n });
    expect(() => parseExactJson('{"czxid":1.5}', "t")).toThrow(MalformedResponseError);
    expect(() => parseExactJson('{"czxid":1e30}', "t")).toThrow(MalformedResponseError);
    expect(() => parseExactJson("{", "t")).toThrow(MalformedResponseError);
    expect(() => parseWire(statSchema, '{"path":"/","czxid":"1"}', "t")).toThrow(MalformedResponseError);
  });
});

describe("gateway JSON writer (Jersey mapped notation)", () => {
  it('leaves out Java nulls and empty lists, writes empty strings as null and empty byte arrays as ""', () => {
    expect(
      jsonObject([
        ["a", undefined],
        ["b", ""],
        ["c", []],
        ["d", ["x"]],
        ["e", { base64: "" }],
        ["f", 2n ** 63n - 1n],
      ]),
    ).toBe('{"b":null,"d":["x"],"e":"","f":9223372036854775807}');
    expect(statEntity("/a", "u", Buffer.alloc(0), "utf8", stat())).toContain('"dataUtf8":null');
    expect(statEntity("/a", "u", Buffer.alloc(0), "base64", stat())).toContain('"data64":""');
    expect(statEntity("/a", "u", null, "base64", stat())).not.toMatch(/"data(64|Utf8)"/);
  });
});

describe("leader record", () => {
  it("is a holder record with the REST session and the term state, readable by decodeHolderRecord", () => {
    const run = "9223372036854775807";
    const bytes = encodeLeaderRecord({
      holder: "h",
      ttlMs: 5000,
      value: "v",
      restSessionId: "0f8f-ab",
      state: "busy",
      run,
    });
    expect(JSON.parse(new TextDecoder().decode(bytes))).toEqual({
      holder: "h",
      ttlMs: 5000,
      value: "v",
      session: "0f8f-ab",
      state: "busy",
      run,
    });
    expect(decodeHolderRecord(bytes, "t")).toMatchObject({ holder: "h", ttlMs: 5000, value: "v" });
    expect(decodeLeaderRecord(bytes, "t")).toEqual({
      holder: "h",
      ttlMs: 5000,
      value: "v",
      restSessionId: "0f8f-ab",
      state: "busy",
      run,
    });
    const parked = encodeLeaderRecord({ holder: "h", ttlMs: 5000, restSessionId: "s", state: "parked" });
    expect(decodeLeaderRecord(parked, "t")).toEqual({
      holder: "h",
      ttlMs: 5000,
      restSessionId: "s",
      state: "parked",
    });
  });

  it("rejects data that is not a leader record", () => {
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    for (const bad of [
      enc({ holder: "h", ttlMs: 5000 }),
      enc({ holder: "h", ttlMs: 5000, session: "s" }),
      enc({ holder: "h", ttlMs: 5000, session: "../x", state: "parked" }),
      enc({ holder: "h", ttlMs: 1500, session: "s", state: "parked" }),
      enc({ holder: "h", ttlMs: 5000, session: "s", state: "busy" }),
      enc({ holder: "h", ttlMs: 5000, session: "s", state: "parked", run: "12" }),
      enc({ holder: "h", ttlMs: 5000, session: "s", state: "busy", run: "012" }),
      enc({ holder: "h", ttlMs: 5000, session: "s", state: "busy", run: 12 }),
      enc({ holder: "h", ttlMs: 5000, session: "s", state: "idle" }),
      new Uint8Array([0xff]),
    ]) {
      expect(() => decodeLeaderRecord(bad, "t")).toThrow(MalformedResponseError);
    }
  });
});
