/** The example Worker's bindings (wrangler.toml `[vars]`); `etcdFromEnv` reads the `LEASEHOLD_ETCD_*` ones. */
export type Env = {
  /** Comma-separated etcd gateway URLs. */
  LEASEHOLD_ETCD_ENDPOINTS: string;
  /** Key prefix of lease keys (optional). */
  LEASEHOLD_ETCD_PREFIX?: string;
  /**
   * This deployment's holder name for the cron lease, stable across its invocations so that each tick resumes
   * the term the previous one parked. Deployments that share the cron job (regions, accounts) set different ones.
   */
  CRON_HOLDER: string;
};
