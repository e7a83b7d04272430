/** Types for the test files that run inside workerd (checked by test/workers/tsconfig.json). */
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("../../example/worker.ts");
  }
  interface Env {
    LEASEHOLD_ETCD_ENDPOINTS: string;
    CRON_HOLDER: string;
  }
}
