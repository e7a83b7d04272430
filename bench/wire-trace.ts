/**
 * Counts what undici (the `undici` package and Node's own fetch, which is undici inside) puts on the wire,
 * through its diagnostics channels: requests written, new connections, and round trips. A request written
 * while no other is awaiting its answer starts a round trip; one written while another is still in flight
 * (HTTP/1.1 pipelining) rides along with it. Subscribed only while counting, so that the other sections run
 * without the channels' cost. Meant for one sequential operation at a time.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";

export interface WireCounts {
  requests: number;
  roundTrips: number;
  connections: number;
}

const SENT = "undici:client:sendHeaders";
const ANSWERED = "undici:request:headers";
const FAILED = "undici:request:error";
const CONNECTED = "undici:client:connected";

/** Counts what `fn` sends. */
export async function countWire(fn: () => Promise<void>): Promise<WireCounts> {
  const counts: WireCounts = { requests: 0, roundTrips: 0, connections: 0 };
  const inFlight = new Set<unknown>();
  const onSent = (message: unknown) => {
    if (inFlight.size === 0) counts.roundTrips++;
    counts.requests++;
    inFlight.add((message as { request: unknown }).request);
  };
  const onAnswered = (message: unknown) => {
    inFlight.delete((message as { request: unknown }).request);
  };
  const onConnected = () => {
    counts.connections++;
  };
  subscribe(SENT, onSent);
  subscribe(ANSWERED, onAnswered);
  subscribe(FAILED, onAnswered);
  subscribe(CONNECTED, onConnected);
  try {
    await fn();
  } finally {
    unsubscribe(SENT, onSent);
    unsubscribe(ANSWERED, onAnswered);
    unsubscribe(FAILED, onAnswered);
    unsubscribe(CONNECTED, onConnected);
  }
  return counts;
}
