/**
 * leasehold-zk-gateway on the wire, against a real ZooKeeper 3.8: SPEC v2 as Apache's Java gateway speaks it
 * (status codes, JSON shapes and their quirks, content negotiation, dataformat, sessions), and the
 * `/leasehold/v1` multi extension. ZooKeeper's own state is checked out of band with a separate client.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseExactJson } from "../../adapters/zookeeper/exact-json.ts";
import { ZkSession } from "../../packages/zk-gateway/src/zk.ts";

const base = inject("zkGatewayUrl");
const plainBase = inject("zkPlainGatewayUrl");
const OCTET = { "content-type": "application/octet-stream" };
let zk: ZkSession;
let root: string;
let n = 0;
const fresh = () => `${root}/n${n++}`;

beforeAll(async () => {
  zk = await ZkSession.open(inject("zkConnectString"), { sessionTimeoutMs: 10_000, callTimeoutMs: 5000 });
  root = `/spec-${Math.random().toString(36).slice(2, 8)}`;
  await zk.create(root, null, { ephemeral: false, sequence: false });
});
afterAll(() => zk.close());

const url = (path: string, query = "") => `${base}/znodes/v1${path}${query ? `?${query}` : ""}`;

async function json(res: Response): Promise<Record<string, unknown>> {
  expect(res.headers.get("content-type")).toBe("application/json");
  return parseExactJson(await res.text(), "test") as Record<string, unknown>;
}

async function session(expire: number): Promise<string> {
  const res = await fetch(`${base}/sessions/v1/?op=create&expire=${expire}`, { method: "POST" });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

describe("znodes/v1: create (POST)", () => {
  it("creates a znode: 201, Location, a PATH entity whose uri is the parent's", async () => {
    const res = await fetch(url(root, "op=create&name=c1&dataformat=utf8"), {
      method: "POST",
      headers: OCTET,
      body: "hello",
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe(`${base}/znodes/v1${root}/c1`);
    expect(await json(res)).toEqual({ path: `${root}/c1`, uri: `${base}/znodes/v1${root}` });
    expect((await zk.getData(`${root}/c1`)).data?.toString()).toBe("hello");
  });

  it("answers 409 with a ZError for an existing znode, 404 for a missing parent", async () => {
    const path = fresh();
    const [parent, name] = [root, path.slice(root.length + 1)];
    const first = await fetch(url(parent, `op=create&name=${name}`), { method: "POST", headers: OCTET });
    expect(first.status).toBe(201);
    const again = await fetch(url(parent, `op=create&name=${name}`), { method: "POST", headers: OCTET });
    expect(again.status).toBe(409);
    expect(await json(again)).toEqual({
      request: url(parent, `op=create&name=${name}`),
      message: `${path} already exists`,
    });
    const orphan = await fetch(url(`${root}/no/such`, "op=create&name=x"), {
      method: "POST",
      headers: OCTET,
    });
    expect(orphan.status).toBe(404);
    expect((await json(orphan)).message).toBe(`${root}/no/such/x not found`);
  });

  it("refuses a bad op (400), a body that is not octet-stream (415, no body), and stores null data on null=true", async () => {
    const bad = await fetch(url(root, "op=bogus&name=z"), { method: "POST", headers: OCTET });
    expect(bad.status).toBe(400);
    expect((await json(bad)).message).toBe(`${root}/z bad operation bogus`);
    const text = await fetch(url(root, "op=create&name=t"), {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "x",
    });
    expect(text.status).toBe(415);
    expect(await text.text()).toBe("");
    const nul = await fetch(url(root, "op=create&name=nul&null=true"), { method: "POST", headers: OCTET });
    expect(nul.status).toBe(201);
    expect((await zk.getData(`${root}/nul`)).data).toBeNull();
  });

  it("creates sequential and ephemeral znodes", async () => {
    const seq = await fetch(url(root, "op=create&name=s-&sequence=true"), { method: "POST", headers: OCTET });
    expect((await json(seq)).path).toMatch(new RegExp(`^${root}/s-\\d{10}$`));
    const id = await session(30);
    const eph = await fetch(url(root, `op=create&name=e1&ephemeral=true&session=${id}`), {
      method: "POST",
      headers: OCTET,
    });
    expect(eph.status).toBe(201);
    const stat = await zk.exists(`${root}/e1`);
    // A real server's session IDs carry the server ID in the top byte: beyond 2^53.
    expect(stat?.ephemeralOwner).toBeGreaterThan(2n ** 53n);
    const read = await json(await fetch(url(`${root}/e1`)));
    expect(read.ephemeralOwner).toBe(stat?.ephemeralOwner);
    await fetch(`${base}/sessions/v1/${id}`, { method: "DELETE" });
    expect(await zk.exists(`${root}/e1`)).toBeNull();
  });
});

describe("znodes/v1: read (GET, HEAD)", () => {
  it("returns a STAT entity: data64 by default, dataUtf8 with dataformat=utf8, exact longs", async () => {
    const path = fresh();
    await zk.create(path, Buffer.from("héllo"), { ephemeral: false, sequence: false });
    const stat = await zk.exists(path);
    const b64 = await json(await fetch(url(path)));
    expect(b64).toEqual({
      path,
      uri: url(path),
      data64: Buffer.from("héllo").toString("base64"),
      czxid: stat?.czxid,
      mzxid: stat?.mzxid,
      ctime: stat?.ctime,
      mtime: stat?.mtime,
      version: 0,
      cversion: 0,
      aversion: 0,
      ephemeralOwner: 0n,
      dataLength: 6,
      numChildren: 0,
      pzxid: stat?.pzxid,
    });
    expect(Object.keys(b64)).toEqual([
      "path",
      "uri",
      "data64",
      "czxid",
      "mzxid",
      "ctime",
      "mtime",
      "version",
      "cversion",
      "aversion",
      "ephemeralOwner",
      "dataLength",
      "numChildren",
      "pzxid",
    ]);
    const utf8 = await json(await fetch(url(path, "dataformat=utf8")));
    expect(utf8.dataUtf8).toBe("héllo");
    expect(utf8.data64).toBeUndefined();
  });

  it('writes empty data as data64 "" but dataUtf8 null, and leaves both out for null data (as Jersey does)', async () => {
    const empty = fresh();
    const nul = fresh();
    await zk.create(empty, Buffer.alloc(0), { ephemeral: false, sequence: false });
    await zk.create(nul, null, { ephemeral: false, sequence: false });
    expect(await (await fetch(url(empty))).text()).toContain('"data64":""');
    expect(await (await fetch(url(empty, "dataformat=utf8"))).text()).toContain('"dataUtf8":null');
    const none = await json(await fetch(url(nul)));
    expect("data64" in none || "dataUtf8" in none).toBe(false);
  });

  it("returns raw bytes for Accept: application/octet-stream, 204 for null data", async () => {
    const path = fresh();
    await zk.create(path, Buffer.from([0, 1, 255]), { ephemeral: false, sequence: false });
    const res = await fetch(url(path), { headers: { accept: "application/octet-stream" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(Array.from(new Uint8Array(await res.arrayBuffer()))).toEqual([0, 1, 255]);
    const nul = await fetch(url(`${root}/nul`), { headers: { accept: "application/octet-stream" } });
    expect(nul.status).toBe(204);
  });

  it("lists children with view=children; an empty list leaves the field out", async () => {
    const path = fresh();
    await zk.create(path, null, { ephemeral: false, sequence: false });
    expect(await json(await fetch(url(path, "view=children")))).toEqual({
      path,
      uri: url(path),
      child_uri_template: `${url(path)}/{child}`,
    });
    await zk.create(`${path}/a`, null, { ephemeral: false, sequence: false });
    await zk.create(`${path}/b`, null, { ephemeral: false, sequence: false });
    const listed = await json(await fetch(url(path, "view=children")));
    expect((listed.children as string[]).sort()).toEqual(["a", "b"]);
    const rootList = await json(await fetch(`${base}/znodes/v1/?view=children`));
    expect(rootList.child_uri_template).toBe(`${base}/znodes/v1/{child}`);
  });

  it("answers HEAD with 200 (JSON) or 204 (octet-stream), 404 when missing; GET of a missing znode is a 404 ZError", async () => {
    expect((await fetch(url(root), { method: "HEAD" })).status).toBe(200);
    const octet = await fetch(url(root), { method: "HEAD", headers: { accept: "application/octet-stream" } });
    expect(octet.status).toBe(204);
    expect((await fetch(url(`${root}/missing`), { method: "HEAD" })).status).toBe(404);
    const missing = await fetch(url(`${root}/missing`));
    expect(missing.status).toBe(404);
    expect(await json(missing)).toEqual({
      request: url(`${root}/missing`),
      message: `${root}/missing not found`,
    });
    const asText = await fetch(url(`${root}/missing`), { headers: { accept: "application/octet-stream" } });
    expect(await asText.text()).toBe(
      `Request ${url(`${root}/missing`)} failed due to ${root}/missing not found`,
    );
  });

  it("wraps entities in a callback for application/javascript (JSONP), and refuses unsafe callback names", async () => {
    const named = await fetch(url(root, "callback=cb_1"), { headers: { accept: "application/javascript" } });
    expect(named.headers.get("content-type")).toBe("application/javascript");
    expect(await named.text()).toMatch(/^cb_1\(\{"path":.*\}\)$/);
    const unnamed = await fetch(url(root), { headers: { accept: "application/javascript" } });
    expect(await unnamed.text()).toMatch(/^callback\(\{/);
    const unsafe = await fetch(url(root, "callback=alert(1)"), {
      headers: { accept: "application/javascript" },
    });
    expect(unsafe.status).toBe(400);
  });

  it("negotiates like JAX-RS: 406 for unsupported types, JSON for */* or no Accept, 405 with Allow for other methods", async () => {
    expect((await fetch(url(root), { headers: { accept: "text/html" } })).status).toBe(406);
    expect((await fetch(url(root), { headers: { accept: "*/*" } })).headers.get("content-type")).toBe(
      "application/json",
    );
    const patch = await fetch(url(root), { method: "PATCH" });
    expect(patch.status).toBe(405);
    expect(patch.headers.get("allow")).toBe("HEAD,DELETE,POST,GET,OPTIONS,PUT");
    expect((await fetch(`${base}/znodes/v1`)).status).toBe(404);
    expect((await fetch(`${base}/nothing/here`)).status).toBe(404);
  });
});

describe("znodes/v1: set (PUT) and delete (DELETE)", () => {
  it("sets data: 200 STAT without data; 412 on a version mismatch; 400 on a bad version; 404 when missing", async () => {
    const path = fresh();
    await zk.create(path, Buffer.from("v0"), { ephemeral: false, sequence: false });
    const ok = await fetch(url(path, "version=0"), { method: "PUT", headers: OCTET, body: "v1" });
    expect(ok.status).toBe(200);
    const stat = await json(ok);
    expect(stat).toMatchObject({ path, uri: url(path), version: 1, dataLength: 2 });
    expect("data64" in stat).toBe(false);
    const stale = await fetch(url(path, "version=0"), { method: "PUT", headers: OCTET, body: "v2" });
    expect(stale.status).toBe(412);
    expect((await json(stale)).message).toBe(`${path} bad version`);
    const bad = await fetch(url(path, "version=x"), { method: "PUT", headers: OCTET, body: "v2" });
    expect(bad.status).toBe(400);
    expect((await json(bad)).message).toBe(`${path} bad version x`);
    expect((await fetch(url(`${path}-missing`), { method: "PUT", headers: OCTET, body: "" })).status).toBe(
      404,
    );
    const octet = await fetch(url(path, "null=true"), {
      method: "PUT",
      headers: { ...OCTET, accept: "application/octet-stream" },
    });
    expect(octet.status).toBe(204);
    expect((await zk.getData(path)).data).toBeNull();
  });

  it("deletes: 204; 412 on a version mismatch; 409 when the znode has children; 404 when missing", async () => {
    const path = fresh();
    await zk.create(path, null, { ephemeral: false, sequence: false });
    await zk.create(`${path}/child`, null, { ephemeral: false, sequence: false });
    expect((await fetch(url(path), { method: "DELETE" })).status).toBe(409);
    expect((await fetch(url(`${path}/child`, "version=3"), { method: "DELETE" })).status).toBe(412);
    expect((await fetch(url(`${path}/child`, "version=0"), { method: "DELETE" })).status).toBe(204);
    expect((await fetch(url(path), { method: "DELETE" })).status).toBe(204);
    expect((await fetch(url(path), { method: "DELETE" })).status).toBe(404);
    expect(await zk.exists(path)).toBeNull();
  });

  it("runs a versioned set or delete on ?session=: applied while it lives, 401 and nothing changed once closed", async () => {
    const id = await session(30);
    const path = fresh();
    const [parent, name] = [root, path.slice(root.length + 1)];
    const create = `op=create&name=${name}&ephemeral=true&session=${id}`;
    expect((await fetch(url(parent, create), { method: "POST", headers: OCTET, body: "a" })).status).toBe(
      201,
    );
    const set = await fetch(url(path, `version=0&session=${id}`), {
      method: "PUT",
      headers: OCTET,
      body: "b",
    });
    expect(set.status).toBe(200);
    expect(await json(set)).toMatchObject({ version: 1 });
    // A znode of another session can be set on this one: the version check is what guards it.
    const other = await session(30);
    const foreign = await fetch(url(path, `version=1&session=${other}`), {
      method: "PUT",
      headers: OCTET,
      body: "c",
    });
    expect(foreign.status).toBe(200);
    expect((await fetch(`${base}/sessions/v1/${other}`, { method: "DELETE" })).status).toBe(204);
    const late = await fetch(url(path, `version=2&session=${other}`), {
      method: "PUT",
      headers: OCTET,
      body: "d",
    });
    expect(late.status).toBe(401);
    expect((await fetch(url(path, `version=2&session=${other}`), { method: "DELETE" })).status).toBe(401);
    const { data, stat } = await zk.getData(path);
    expect([data?.toString(), stat.version]).toEqual(["c", 2]);
    expect((await fetch(url(path, `version=2&session=${id}`), { method: "DELETE" })).status).toBe(204);
    expect(await zk.exists(path)).toBeNull();
    await fetch(`${base}/sessions/v1/${id}`, { method: "DELETE" });
  });
});

describe("sessions/v1", () => {
  it("creates (201, a sealed URL-safe ID, Location), heartbeats (200, empty) and deletes (204) sessions", async () => {
    const res = await fetch(`${base}/sessions/v1/?op=create&expire=30`, { method: "POST" });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; uri: string };
    // Apache's gateway answers a UUID; ours seals the ZooKeeper session into 57 bytes of base64url.
    expect(body.id).toMatch(/^[A-Za-z0-9_-]{76}$/);
    expect(body.uri).toBe(`${base}/sessions/v1/${body.id}`);
    expect(res.headers.get("location")).toBe(body.uri);
    const beat = await fetch(body.uri, { method: "PUT", headers: OCTET });
    expect(beat.status).toBe(200);
    expect(await beat.text()).toBe("");
    expect(
      (await fetch(body.uri, { method: "PUT", headers: { "content-type": "application/json" } })).status,
    ).toBe(415);
    expect((await fetch(body.uri, { method: "DELETE" })).status).toBe(204);
    const gone = await fetch(body.uri, { method: "PUT", headers: OCTET });
    expect(gone.status).toBe(404);
    expect((await gone.json()) as unknown).toEqual({ request: body.uri, message: `${body.id} not found` });
    expect((await fetch(body.uri, { method: "DELETE" })).status).toBe(204);
  });

  it("answers 401 (without a basic-auth challenge) for a ?session= the gateway does not have", async () => {
    const res = await fetch(url(root, "session=no-such-session"));
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBeNull();
  });

  it("refuses bad create requests with 400 and opens no session", async () => {
    const post = (query: string) => fetch(`${base}/sessions/v1/?${query}`, { method: "POST" });
    const nonNumeric = await post("op=create&expire=abc");
    expect(nonNumeric.status).toBe(400);
    expect(await nonNumeric.text()).toBe("");
    for (const expire of ["0", "-1", "3601", "2147483648"]) {
      expect((await post(`op=create&expire=${expire}`)).status).toBe(400);
    }
    const badOp = await post("op=bogus");
    expect(badOp.status).toBe(400);
    expect(((await badOp.json()) as { message: unknown }).message).toBeNull();
    // Above ZooKeeper's maxSessionTimeout (60 s in the test server): the granted timeout would be shorter.
    const tooLong = await post("op=create&expire=61");
    expect(tooLong.status).toBe(400);
    expect(((await tooLong.json()) as { message: string }).message).toMatch(
      /exceeds the ZooKeeper session timeout/,
    );
    expect((await fetch(`${base}/sessions/v1/?op=create&expire=5`, { method: "GET" })).status).toBe(405);
  });

  it("closes a session `expire` seconds after its last heartbeat, deleting its ephemeral znodes", async () => {
    const id = await session(2);
    const path = `${root}/expiring`;
    await fetch(url(root, `op=create&name=expiring&ephemeral=true&session=${id}`), {
      method: "POST",
      headers: OCTET,
    });
    expect(await zk.exists(path)).not.toBeNull();
    await new Promise((r) => setTimeout(r, 1000));
    const beat = Date.now();
    expect((await fetch(`${base}/sessions/v1/${id}`, { method: "PUT", headers: OCTET })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    // 2.5 s after creation, 1.5 s after the heartbeat: still there.
    expect(await zk.exists(path)).not.toBeNull();
    await expect.poll(() => zk.exists(path), { timeout: 3000, interval: 50 }).toBeNull();
    expect(Date.now() - beat).toBeGreaterThanOrEqual(2000);
    expect((await fetch(`${base}/sessions/v1/${id}`, { method: "PUT", headers: OCTET })).status).toBe(404);
  });
});

describe("leasehold/v1 multi extension", () => {
  const multi = (body: unknown, query = "") =>
    fetch(`${base}/leasehold/v1/multi${query}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("is advertised at GET /leasehold/v1, and absent from a gateway started without extensions", async () => {
    const res = await fetch(`${base}/leasehold/v1`);
    expect(await res.json()).toEqual({ extensions: ["multi", "watch"] });
    expect((await fetch(`${plainBase}/leasehold/v1`)).status).toBe(404);
    expect((await fetch(`${plainBase}/leasehold/v1/multi`, { method: "POST" })).status).toBe(404);
  });

  it("commits all ops as one ZooKeeper multi and returns one result per op", async () => {
    const path = fresh();
    const res = await multi({
      ops: [
        { op: "create", path, data64: Buffer.from("a").toString("base64") },
        { op: "check", path, version: 0 },
        { op: "set", path, data64: Buffer.from("b").toString("base64"), version: 0 },
        { op: "create", path: `${path}/kid` },
        { op: "delete", path: `${path}/kid`, version: 0 },
      ],
    });
    expect(res.status).toBe(200);
    const body = parseExactJson(await res.text(), "multi") as { results: Record<string, unknown>[] };
    expect(body.results.map((r) => r.op)).toEqual(["create", "check", "set", "create", "delete"]);
    expect(body.results[0]).toEqual({ op: "create", path });
    const stat = await zk.exists(path);
    expect(body.results[2]).toMatchObject({
      op: "set",
      stat: { version: 1, mzxid: stat?.mzxid, czxid: stat?.czxid },
    });
    expect((await zk.getData(path)).data?.toString()).toBe("b");
  });

  it("applies nothing when one op fails, and names it: status, index and ZooKeeper code", async () => {
    const path = fresh();
    await zk.create(path, Buffer.from("x"), { ephemeral: false, sequence: false });
    await zk.setData(path, Buffer.from("y"), -1);
    const res = await multi({
      ops: [
        { op: "create", path: `${path}-new` },
        // Version 0 must mean 0 (the ZooKeeper client library would turn it into "any version").
        { op: "check", path, version: 0 },
      ],
    });
    expect(res.status).toBe(412);
    expect(await res.json()).toMatchObject({ index: 1, code: "BADVERSION", message: `${path} bad version` });
    expect(await zk.exists(`${path}-new`)).toBeNull();
    const missing = await multi({ ops: [{ op: "delete", path: `${path}-nope` }] });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ index: 0, code: "NONODE" });
  });

  it("runs on a REST session's ZooKeeper session: ephemeral creates belong to it, unknown sessions get 401", async () => {
    const id = await session(30);
    const path = fresh();
    expect((await multi({ ops: [{ op: "create", path, ephemeral: true }] }, `?session=${id}`)).status).toBe(
      200,
    );
    expect((await zk.exists(path))?.ephemeralOwner).toBeGreaterThan(0n);
    await fetch(`${base}/sessions/v1/${id}`, { method: "DELETE" });
    expect(await zk.exists(path)).toBeNull();
    expect((await multi({ ops: [{ op: "check", path: "/" }] }, `?session=${id}`)).status).toBe(401);
  });

  it("refuses malformed requests: 400 for bad JSON or ops, 415 for other content types, 405 for other methods", async () => {
    const raw = await fetch(`${base}/leasehold/v1/multi`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{nope",
    });
    expect(raw.status).toBe(400);
    expect((await multi({ ops: [] })).status).toBe(400);
    expect((await multi({ ops: [{ op: "frobnicate", path: "/" }] })).status).toBe(400);
    expect((await multi({ ops: [{ op: "create", path: "/x", data64: "not base64!" }] })).status).toBe(400);
    const form = await fetch(`${base}/leasehold/v1/multi`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "{}",
    });
    expect(form.status).toBe(415);
    expect((await fetch(`${base}/leasehold/v1/multi`)).status).toBe(405);
  });
});
