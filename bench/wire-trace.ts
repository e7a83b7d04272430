/**
 * Counts what undici (the `undici` package and Node's own fetch, which is undici inside) puts on the wire,
 * through its diagnostics channels: requests written, new connections, and round trips. A request written
 * while no other is awaiting its answer starts a round trip; one written while another is still in flight
 * (HTTP/1.1 pipelining) rides along with it. Meant for one sequential operation at a time.
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

export class WireTrace {
  #active = false;
  #inFlight = new Set<unknown>();
  #counts: WireCounts = { requests: 0, roundTrips: 0, connections: 0 };

  readonly #onSent = (message: unknown) => {
    if (!this.#active) return;
    if (this.#inFlight.size === 0) this.#counts.roundTrips++;
    this.#counts.requests++;
    this.#inFlight.add((message as { request: unknown }).request);
  };

  readonly #onAnswered = (message: unknown) => {
    this.#inFlight.delete((message as { request: unknown }).request);
  };

  readonly #onConnected = () => {
    if (this.#active) this.#counts.connections++;
  };

  constructor() {
    subscribe(SENT, this.#onSent);
    subscribe(ANSWERED, this.#onAnswered);
    subscribe(FAILED, this.#onAnswered);
    subscribe(CONNECTED, this.#onConnected);
  }

  /** Counts what `fn` sends. */
  async count(fn: () => Promise<void>): Promise<WireCounts> {
    this.#counts = { requests: 0, roundTrips: 0, connections: 0 };
    this.#inFlight.clear();
    this.#active = true;
    try {
      await fn();
    } finally {
      this.#active = false;
    }
    return this.#counts;
  }

  close(): void {
    unsubscribe(SENT, this.#onSent);
    unsubscribe(ANSWERED, this.#onAnswered);
    unsubscribe(FAILED, this.#onAnswered);
    unsubscribe(CONNECTED, this.#onConnected);
  }
}
