/**
 * Starts the real servers the integration tests use, once per test run, and stops them afterwards. Tests read
 * the endpoints with `inject(...)`.
 */
import type { TestProject } from "vitest/node";
import { startEtcd } from "../scripts/lib/etcd-server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    etcdEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const etcd = await startEtcd();
  project.provide("etcdEndpoint", etcd.endpoint);
  return async () => {
    await etcd.stop();
  };
}
