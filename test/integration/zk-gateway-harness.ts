/**
 * Shared by the gateway integration tests: gateways started in-process for the length of a test body, and the
 * raw SPEC v2 session and znode requests they exchange.
 */
import { expect } from "vitest";
import { createZkGateway, type ZkGateway } from "../../packages/zk-gateway/src/server.ts";

export const OCTET = { "content-type": "application/octet-stream" };

export type GatewayBody<T> = (gateways: { gateway: ZkGateway; url: string }[]) => Promise<T>;

/** Runs `body` with one listening gateway per spec, closing them (and their sessions) afterwards. */
export async function gatewaysOn<T>(
  specs: readonly { zookeeper: string; sessionKeys: readonly Uint8Array[] }[],
  body: GatewayBody<T>,
): Promise<T> {
  const gateways = specs.map((spec) => createZkGateway({ ...spec, port: 0 }));
  try {
    const urls = await Promise.all(gateways.map((g) => g.listen()));
    return await body(gateways.map((gateway, i) => ({ gateway, url: urls[i] as string })));
  } finally {
    await Promise.all(gateways.map((g) => g.close({ sessions: "close" })));
  }
}

/** `POST /sessions/v1/?op=create`: the new REST session's ID. */
export const createSession = async (url: string, expire: number) => {
  const res = await fetch(`${url}/sessions/v1/?op=create&expire=${expire}`, { method: "POST" });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
};

/** `PUT /sessions/v1/<id>`: the heartbeat's status. */
export const heartbeat = async (url: string, id: string) =>
  (await fetch(`${url}/sessions/v1/${id}`, { method: "PUT", headers: OCTET })).status;

/** An ephemeral znode `/<name>` of session `id`. */
export const createEphemeral = (url: string, id: string, name: string) =>
  fetch(`${url}/znodes/v1/?op=create&name=${name}&ephemeral=true&session=${id}`, {
    method: "POST",
    headers: OCTET,
  });
