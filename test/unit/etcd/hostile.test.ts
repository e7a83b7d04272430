/**
 * The etcd backend against hostile or broken answers, one class per test, each made from a real exchange
 * (test/fixtures, recorded by scripts/record-fixtures.ts) changed in one place: granted TTLs beyond what was
 * asked, success answers of the wrong shape, int64s out of range, keys that are not the key asked, bytes that
 * are not base64, leader keys that are not the election's, redirects, and secrets echoed back.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  AuthError,
  type ClaimOutcome,
  HttpStatusError,
  type LeaderInfo,
  LeaseLostError,
  MalformedResponseError,
} from "../../../src/backend-kit.ts";
import { editJson, exchanges, type JsonBody, loadFixture, replayEdited } from "../../fuzz/edit.ts";
import { secretsOf } from "../../fuzz/invariants.ts";

const fixture = loadFixture("etcd");
const TTL_MS = 5000;
const b64 = (text: string) => Buffer.from(text).toString("base64");
/** The txn answers of a step (after its authenticate), in order. */
const txns = (step: Parameters<typeof exchanges>[0]) => exchanges(step, "/v3/kv/txn");

describe("etcd: granted TTLs", () => {
  it("the intact answers give what the recording gave", async () => {
    const outcome = (await replayEdited(fixture, "claim-free", () => {})) as ClaimOutcome;
    expect(outcome).toMatchObject({ held: true, grantedTtlMs: TTL_MS, leader: { token: 2n } });
  });

  it("never grants more than the TTL asked: a grant of 3600 s, a keepalive of int64 max", async () => {
    const claimed = (await replayEdited(fixture, "claim-free", (s) =>
      editJson(exchanges(s, "/v3/lease/grant")[0], (b) => {
        b.TTL = "3600";
      }),
    )) as ClaimOutcome;
    expect(claimed).toMatchObject({ held: true, grantedTtlMs: TTL_MS });
    const renewed = await replayEdited(fixture, "renew", (s) =>
      editJson(exchanges(s, "/v3/lease/keepalive")[0], (b) => {
        b.result.TTL = "9223372036854775807";
      }),
    );
    expect(renewed).toEqual({ grantedTtlMs: TTL_MS });
  });
});

describe("etcd: success answers of the wrong shape", () => {
  it("refuses a keepalive answer without the lease ID", async () => {
    const renewed = replayEdited(fixture, "renew", (s) =>
      editJson(exchanges(s, "/v3/lease/keepalive")[0], (b) => {
        delete b.result.ID;
      }),
    );
    await expect(renewed).rejects.toBeInstanceOf(MalformedResponseError);
  });

  it("refuses a succeeded claim txn whose responses are [{}], or are missing", async () => {
    for (const responses of [[{}], undefined, [{}, {}]]) {
      const claimed = replayEdited(fixture, "claim-free", (s) =>
        editJson(txns(s)[1], (b) => {
          b.responses = responses;
        }),
      );
      await expect(claimed, JSON.stringify(responses)).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });

  it("refuses a doIfLeader answer with extra, duplicated or other kinds of responses", async () => {
    const edits: ((r: unknown[]) => unknown[])[] = [
      (r) => [...r, r[0]],
      (r) => [r[0], r[0], r[2]],
      (r) => r.slice(0, 2),
      (r) => [r[0], { response_put: { header: {} } }, r[2]],
      (r) => [{ ...(r[0] as object), response_range: { header: {} } }, r[1], r[2]],
    ];
    for (const edit of edits) {
      const applied = replayEdited(fixture, "txn-applied", (s) =>
        editJson(txns(s)[0], (b) => {
          b.responses = edit(b.responses);
        }),
      );
      await expect(applied).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });

  it("refuses a get result of another key, and more kvs than the count", async () => {
    for (const edit of [
      (kvs: Record<string, string>[]) => {
        (kvs[0] as Record<string, string>).key = b64("fuzz/data/other");
      },
      (kvs: Record<string, string>[]) => {
        kvs.push({ ...(kvs[0] as Record<string, string>) });
      },
    ]) {
      const applied = replayEdited(fixture, "txn-applied", (s) =>
        editJson(txns(s)[0], (b) => edit(b.responses[1].response_range.kvs)),
      );
      await expect(applied).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });

  it("does not resume as its own a term record of another key", async () => {
    const resumed = replayEdited(fixture, "claim-resume", (s) =>
      editJson(txns(s)[0], (b) => {
        b.responses[1].response_range.kvs[0].key = b64("fuzz/leases/other");
      }),
    );
    await expect(resumed).rejects.toBeInstanceOf(MalformedResponseError);
  });
});

describe("etcd: int64 and base64 fields", () => {
  const tokens = [
    "9999999999999999999",
    "9223372036854775808",
    "1".repeat(30),
    "0",
    "-0",
    "-1",
    "1.5",
    "1e3",
    "01",
  ];

  it.each(tokens)("refuses create_revision %s as a fencing token, from claim and leader()", async (bad) => {
    for (const id of ["claim-held-by-other", "leader-held"]) {
      const result = replayEdited(fixture, id, (s) =>
        editJson(txns(s)[0], (b) => {
          b.responses[0].response_range.kvs[0].create_revision = bad;
        }),
      );
      await expect(result, id).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });

  it.each(["9223372036854775808", "-0", "1".repeat(30)])("refuses a claim txn revision %s", async (bad) => {
    const claimed = replayEdited(fixture, "claim-free", (s) =>
      editJson(txns(s)[1], (b) => {
        b.header.revision = bad;
      }),
    );
    await expect(claimed).rejects.toBeInstanceOf(MalformedResponseError);
  });

  it("checks int64 fields it does not use, too", async () => {
    const read = replayEdited(fixture, "leader-held", (s) =>
      editJson(txns(s)[0], (b) => {
        b.header.raft_term = "-0";
      }),
    );
    await expect(read).rejects.toBeInstanceOf(MalformedResponseError);
  });

  it.each(["QQ", "QR==", "!!!", "-_8="])(
    "refuses a key or value %s that is not canonical base64",
    async (bad) => {
      for (const field of ["key", "value"]) {
        const applied = replayEdited(fixture, "txn-applied", (s) =>
          editJson(txns(s)[0], (b) => {
            b.responses[1].response_range.kvs[0][field] = bad;
          }),
        );
        await expect(applied, field).rejects.toBeInstanceOf(MalformedResponseError);
      }
    },
  );
});

describe("etcd: leader() only from the leader key", () => {
  it("reads the recorded leader", async () => {
    const leader = (await replayEdited(fixture, "leader-held", () => {})) as LeaderInfo;
    expect(leader).toMatchObject({ holder: "a", token: 2n, leaseId: "4611686018427387905" });
  });

  it("refuses a first kv that is not E/<lease in hex>, or a term record without its candidate", async () => {
    const edits = [
      (b: JsonBody) => {
        b.responses[0].response_range.kvs[0].key = b64("fuzz/leases/job/ffff");
      },
      (b: JsonBody) => {
        b.responses[0].response_range.kvs[0].key = b64("fuzz/leases/job");
      },
      (b: JsonBody) => {
        b.responses[0].response_range = { header: {} };
      },
    ];
    for (const edit of edits) {
      const leader = replayEdited(fixture, "leader-held", (s) => editJson(txns(s)[0], edit));
      await expect(leader).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });
});

describe("etcd: a transfer record alone", () => {
  it("is a transfer window whose target went: nobody leads (a term record alone stays inconsistent)", async () => {
    const leader = replayEdited(fixture, "leader-held", (s) =>
      editJson(txns(s)[0], (b) => {
        b.responses[0].response_range = { header: {} };
        b.responses[1].response_range.kvs[0].value = b64(JSON.stringify({ transfer: "b", lease: "7" }));
      }),
    );
    await expect(leader).resolves.toBeNull();
  });

  it("refuses a claim in that window with a retryable LeaseLostError, after the read alone (no grant)", async () => {
    const claimed = replayEdited(fixture, "claim-held-by-other", (s) =>
      editJson(txns(s)[0], (b) => {
        b.responses[0].response_range = { header: {} };
        b.responses[1].response_range.kvs[0].value = b64(JSON.stringify({ transfer: "b", lease: "7" }));
      }),
    );
    await expect(claimed).rejects.toMatchObject({ name: "LeaseLostError", retryable: true });
  });
});

describe("etcd: redirects and secrets", () => {
  it("a 307 from /v3/auth/authenticate is an HttpStatusError, not an AuthError", async () => {
    const claimed = replayEdited(fixture, "claim-free", (s) => {
      const auth = exchanges(s, "/v3/auth/authenticate")[0];
      if (auth) auth.status = 307;
    });
    const error = await claimed.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).not.toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ status: 307 });
  });

  it("a 3xx to a keepalive carrying an Unauthenticated body is an HttpStatusError", async () => {
    const renewed = replayEdited(fixture, "renew", (s) => {
      const ex = exchanges(s, "/v3/lease/keepalive")[0];
      if (ex)
        Object.assign(ex, { status: 302, body: '{"code":16,"message":"etcdserver: invalid auth token"}' });
    });
    await expect(renewed).rejects.toMatchObject({ code: "HTTP", status: 302 });
  });

  it("redacts the password and the token from every error, whatever the server echoes", async () => {
    const secrets = secretsOf(fixture);
    const echoes = [
      (req: string, auth: string) => ({
        status: 401,
        body: JSON.stringify({ code: 16, message: `${req} ${auth}` }),
      }),
      (req: string, auth: string) => ({ status: 500, body: `${req} ${auth}` }),
      (req: string, auth: string) => ({ status: 200, body: `{"x":"${auth}", ${req}` }),
    ];
    for (const echo of echoes) {
      for (const path of ["/v3/auth/authenticate", "/v3/kv/txn"]) {
        const error = await replayEdited(fixture, "claim-held-by-other", (s) => {
          const ex = exchanges(s, path)[0];
          const auth = exchanges(s, "/v3/auth/authenticate")[0];
          // The token this client was issued (none yet when the authenticate answer is the echo).
          const token = ex === auth ? "" : (JSON.parse(auth?.body ?? "{}") as { token: string }).token;
          if (ex) Object.assign(ex, echo(ex.requestBody, token));
        }).catch((e: unknown) => e);
        expect(error, path).toBeInstanceOf(Error);
        const text = `${String(error)} ${inspect(error, { depth: 20, showHidden: true })}`;
        for (const secret of secrets) expect(text, path).not.toContain(secret);
      }
    }
  });

  it("refuses a token that is not a header value (CR/LF), without quoting it", async () => {
    const token = "abc\r\nx-evil: 1";
    const error = await replayEdited(fixture, "leader-held", (s) =>
      editJson(exchanges(s, "/v3/auth/authenticate")[0], (b) => {
        b.token = token;
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedResponseError);
    expect(inspect(error, { depth: 20 })).not.toContain("abc");
  });

  it("reads an expired lease's keepalive (TTL omitted) as lost", async () => {
    const renewed = replayEdited(fixture, "renew", (s) =>
      editJson(exchanges(s, "/v3/lease/keepalive")[0], (b) => {
        delete b.result.TTL;
      }),
    );
    await expect(renewed).rejects.toBeInstanceOf(LeaseLostError);
  });
});
