/** The example's lease names: one for the HTTP-triggered job, one for the Worker's own cron trigger. */
export const HTTP_LEASE = "example/http-report";
export const CRON_LEASE = "example/cron-report";
