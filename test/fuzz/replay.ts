/**
 * Replays one recorded step's answers with one of them mutated: in process (a Transport), or from a loopback
 * HTTP server, so that the real transports (fetchTransport, undiciTransport) read them off a socket, where
 * the mutations of the connection itself (huge, dripped, stalled, reset, redirected answers) can happen.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { HttpRequest, HttpResponse, Transport } from "../../src/index.ts";
import { type AnswerMutation, grpcBody, type Mutation, mutateBody, type WireMutation } from "./mutations.ts";
import type { Exchange, Step } from "./steps.ts";

type Planned = { answer: HttpResponse } | { wire: WireMutation; answer: HttpResponse };

const WIRE = new Set(["huge", "drip", "stall", "reset", "redirect"]);
const isWire = (m: Mutation): m is WireMutation => WIRE.has(m.kind);

function applyAnswer(ex: Exchange, m: AnswerMutation, requestBody: string, authorization: string) {
  const headers: Record<string, string> = { "content-type": ex.contentType ?? "application/json" };
  const echo = `${requestBody} ${authorization}`;
  switch (m.kind) {
    case "status":
      if (m.status === ex.status) return null;
      if (m.challenge) headers["www-authenticate"] = 'Basic realm="Restricted"';
      return { status: m.status, headers, body: ex.body };
    case "grpc":
      return {
        status: m.status,
        headers,
        body: grpcBody(m.code, m.echo ? echo : "etcdserver: fuzz", m.stream),
      };
    case "echo":
      return { status: m.status, headers, body: echo };
    default: {
      const body = mutateBody(ex.body, m);
      return body === null ? null : { status: ex.status, headers, body };
    }
  }
}

/** Serves one step's recorded answers, matched by method and path in recorded order; one is mutated. */
export class Replay {
  readonly #step: Step;
  readonly #target: number;
  readonly #mutation: Mutation | null;
  readonly #served = new Set<number>();
  /** Whether the mutated answer was served (a mutation with nothing to act on does not count). */
  consumed = false;

  constructor(step: Step, target: number, mutation: Mutation | null) {
    this.#step = step;
    this.#target = step.exchanges.length === 0 ? -1 : target % step.exchanges.length;
    this.#mutation = mutation;
  }

  plan(method: string, path: string, requestBody: string, authorization: string): Planned {
    const i = this.#step.exchanges.findIndex(
      (e, j) => !this.#served.has(j) && e.method === method && e.path === path,
    );
    if (i < 0) return { answer: { status: 503, headers: {}, body: "unrecorded request" } };
    this.#served.add(i);
    const ex = this.#step.exchanges[i] as Exchange;
    const answer = { status: ex.status, headers: { "content-type": ex.contentType ?? "" }, body: ex.body };
    const m = this.#mutation;
    if (i !== this.#target || m === null) return { answer };
    if (isWire(m)) {
      this.consumed = true;
      return { wire: m, answer };
    }
    const mutated = applyAnswer(ex, m, requestBody, authorization);
    if (mutated === null) return { answer };
    this.consumed = true;
    return { answer: mutated };
  }
}

const pathOf = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

/** An in-process transport that answers from `replay` (answer mutations only). */
export function replayTransport(replay: () => Replay): Transport {
  return {
    async request(req: HttpRequest) {
      const body =
        typeof req.body === "string" ? req.body : new TextDecoder().decode(req.body ?? new Uint8Array());
      const planned = replay().plan(req.method, pathOf(req.url), body, req.headers?.authorization ?? "");
      if ("wire" in planned) throw new Error("wire mutations need the loopback server");
      return planned.answer;
    },
  };
}

/** A loopback HTTP server serving the current replay, and a trap that counts requests redirected to it. */
export class ReplayServer {
  replay: Replay | null = null;
  trapHits = 0;
  readonly #server: Server;
  readonly #trap: Server;
  readonly #timers = new Set<NodeJS.Timeout>();
  url = "";
  #trapUrl = "";

  constructor() {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => res.destroy());
    });
    this.#trap = createServer((_req, res) => {
      this.trapHits++;
      res.end("{}");
    });
  }

  async listen(): Promise<void> {
    const listen = (s: Server) =>
      new Promise<string>((resolve) =>
        s.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)),
      );
    this.url = await listen(this.#server);
    this.#trapUrl = await listen(this.#trap);
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    for (const s of [this.#server, this.#trap]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const replay = this.replay;
    if (!replay) {
      res.writeHead(503).end();
      return;
    }
    const planned = replay.plan(
      req.method ?? "GET",
      req.url ?? "/",
      Buffer.concat(chunks).toString("utf8"),
      req.headers.authorization ?? "",
    );
    const { answer } = planned;
    if (!("wire" in planned)) {
      res.writeHead(answer.status, answer.headers).end(req.method === "HEAD" ? undefined : answer.body);
      return;
    }
    this.#wire(planned.wire, answer, req, res);
  }

  #wire(m: WireMutation, answer: HttpResponse, req: IncomingMessage, res: ServerResponse): void {
    const type = { "content-type": "application/json" };
    switch (m.kind) {
      case "huge": {
        const body = `{"header":{},"x":"${"a".repeat(300_000)}"}`;
        res.writeHead(200, m.declared ? { ...type, "content-length": String(body.length) } : type);
        res.end(body);
        return;
      }
      case "drip": {
        res.writeHead(200, type);
        const timer = setInterval(() => res.write(" "), 20);
        this.#timers.add(timer);
        res.on("close", () => {
          clearInterval(timer);
          this.#timers.delete(timer);
        });
        return;
      }
      case "stall":
        return;
      case "reset": {
        res.writeHead(answer.status, {
          ...type,
          "content-length": String(Buffer.byteLength(answer.body) + 10),
        });
        res.write(answer.body.slice(0, Math.floor(m.fraction * answer.body.length)));
        setTimeout(() => req.socket.destroy(), 5);
        return;
      }
      case "redirect":
        res.writeHead(m.status, { ...type, location: `${this.#trapUrl}${req.url ?? "/"}` }).end(answer.body);
        return;
    }
  }
}
