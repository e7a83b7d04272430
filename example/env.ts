/** The example Worker's bindings (wrangler.toml `[vars]`), read by `etcdFromEnv`. */
export type Env = {
  /** Comma-separated etcd gateway URLs. */
  LEASEHOLD_ETCD_ENDPOINTS: string;
  /** Key prefix of lease keys (optional). */
  LEASEHOLD_ETCD_PREFIX?: string;
};
