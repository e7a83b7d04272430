/** Starts the etcd the example Worker talks to from inside workerd, and stops it after the run. */
import type { TestProject } from "vitest/node";
import { startEtcd } from "../../scripts/lib/etcd-server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    etcdEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const etcd = await startEtcd();
  project.provide("etcdEndpoint", etcd.endpoint);
  return () => etcd.stop();
}
