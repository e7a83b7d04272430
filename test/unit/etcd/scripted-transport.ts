/**
 * A transport that answers etcd requests from a script, for the etcd adapter's unit tests: the script sees each
 * request's path and parsed JSON body (and what was sent before it) and returns the answer, or an Error to throw
 * as the network would.
 */
import type { HttpRequest, HttpResponse, Transport } from "../../../src/backend-kit.ts";

export interface Sent {
  path: string;
  body: Record<string, unknown>;
}

export type Script = (path: string, body: Record<string, unknown>, sent: Sent[]) => HttpResponse | Error;

export function scriptedTransport(script: Script): Transport & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    async request(req: HttpRequest) {
      const path = new URL(req.url).pathname;
      const body = JSON.parse(String(req.body)) as Record<string, unknown>;
      sent.push({ path, body });
      const answer = script(path, body, sent);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

/** A 200 answer with `json` as its body. */
export const ok = (json: unknown): HttpResponse => ({ status: 200, headers: {}, body: JSON.stringify(json) });
