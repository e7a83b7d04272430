/**
 * Failover: a holder claims, renews twice, then stops renewing (it does not release); a contender polls
 * `claim()` every 50 ms. A trial measures from the send time of the holder's last successful renewal to the
 * moment the contender's claim returns `isLeader: true`. Trials run concurrently on separate lease names,
 * with staggered starts so their expiries fall at different points of etcd's expiry check cycle.
 */
import { etcd } from "../adapters/etcd/index.ts";
import { undiciTransport } from "../adapters/node/index.ts";
import { createLease } from "../src/index.ts";
import type { BenchConfig } from "./config.ts";

export const FAILOVER_TTL_MS = 2000;
const RENEW_EVERY_MS = 500;
const POLL_EVERY_MS = 50;
const STAGGER_MS = 170;
const GIVE_UP_AFTER_MS = 10 * FAILOVER_TTL_MS;

export interface FailoverTrial {
  /** From the holder's last renewal (send time) to the contender's successful claim, in ms. */
  failoverMs: number;
  /** Claims the contender sent, the winning one included. */
  attempts: number;
  /** How long after the holder's own validity (`validUntil`) ended the winning claim was sent, in ms. */
  marginAfterValidUntilMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function trial(endpoint: string, keyspace: string, i: number): Promise<FailoverTrial> {
  const backend = etcd({ endpoints: [endpoint], prefix: `${keyspace}lease/`, transport: undiciTransport() });
  try {
    const mk = (holder: string) =>
      createLease({ backend, name: `failover/${i}`, holder, ttlMs: FAILOVER_TTL_MS });
    const holder = mk("holder");
    const contender = mk("contender");
    await sleep(i * STAGGER_MS);
    if (!(await holder.claim()).isLeader) throw new Error(`failover trial ${i}: the holder could not claim`);
    let lastRenewalSent = 0;
    let validUntil = 0;
    for (let r = 0; r < 2; r++) {
      await sleep(RENEW_EVERY_MS);
      lastRenewalSent = Date.now();
      validUntil = (await holder.renew()).validUntil as number;
    }
    for (let attempts = 1; ; attempts++) {
      const sentAt = Date.now();
      const state = await contender.claim();
      if (state.isLeader) {
        const failoverMs = Date.now() - lastRenewalSent;
        await contender.release();
        return { failoverMs, attempts, marginAfterValidUntilMs: sentAt - validUntil };
      }
      if (Date.now() - lastRenewalSent > GIVE_UP_AFTER_MS) {
        throw new Error(`failover trial ${i}: no takeover within ${GIVE_UP_AFTER_MS} ms`);
      }
      await sleep(POLL_EVERY_MS);
    }
  } finally {
    await backend.close?.();
  }
}

export async function measureFailover(
  endpoint: string,
  keyspace: string,
  config: BenchConfig,
): Promise<FailoverTrial[]> {
  return Promise.all(Array.from({ length: config.failoverTrials }, (_, i) => trial(endpoint, keyspace, i)));
}
