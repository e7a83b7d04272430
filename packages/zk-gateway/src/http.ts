/** HTTP plumbing of the gateway: content negotiation, bodies, and the errors handlers throw. */
import type { IncomingMessage, ServerResponse } from "node:http";

export const JSON_TYPE = "application/json";
export const JAVASCRIPT_TYPE = "application/javascript";
export const OCTET_TYPE = "application/octet-stream";

/**
 * A response a handler ends with by throwing. `message` becomes a ZError entity (`{request, message}`);
 * `undefined` sends no body, as Apache's gateway does for its bare 400/401/415 answers.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly entityMessage: string | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, entityMessage?: string, headers: Record<string, string> = {}) {
    super(entityMessage ?? `HTTP ${status}`);
    this.status = status;
    this.entityMessage = entityMessage;
    this.headers = headers;
  }
}

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header
    .split(",")
    .map((part) => {
      const [range = "", ...params] = part.trim().split(";");
      const [type = "", subtype = ""] = range.trim().toLowerCase().split("/");
      let q = 1;
      for (const param of params) {
        const [name, value] = param.trim().split("=");
        if (name?.trim().toLowerCase() === "q") q = Number(value);
      }
      return { type, subtype, q: Number.isFinite(q) ? q : 0 };
    })
    .filter((r) => r.type !== "" && r.subtype !== "");
}

function matchQuality(range: MediaRange, offered: string): number {
  const [type, subtype] = offered.split("/");
  if (range.type === "*" && range.subtype === "*") return 0;
  if (range.type !== type) return -1;
  if (range.subtype === "*") return 1;
  return range.subtype === subtype ? 2 : -1;
}

/**
 * Picks the response type from `offered` (in the server's order of preference) for an Accept header, as
 * JAX-RS does: the most specific matching range decides each type's quality, the highest quality wins, ties
 * go to the earlier offered type. No Accept header accepts anything. Null: nothing acceptable (406).
 */
export function negotiate(accept: string | undefined, offered: readonly string[]): string | null {
  if (accept === undefined || accept.trim() === "") return offered[0] ?? null;
  const ranges = parseAccept(accept);
  let best: string | null = null;
  let bestQ = 0;
  for (const type of offered) {
    let specificity = -1;
    let q = 0;
    for (const range of ranges) {
      const s = matchQuality(range, type);
      if (s > specificity) {
        specificity = s;
        q = range.q;
      }
    }
    if (specificity >= 0 && q > bestQ) {
      best = type;
      bestQ = q;
    }
  }
  return best;
}

/** True when the request has no Content-Type or the given one (parameters ignored). */
export function contentTypeIs(req: IncomingMessage, type: string): boolean {
  const header = req.headers["content-type"];
  if (header === undefined || header.trim() === "") return true;
  return header.split(";")[0]?.trim().toLowerCase() === type;
}

/**
 * Reads the whole request body.
 * @throws {HttpError} 413 when it is longer than `limit` bytes.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new HttpError(413, `request body exceeds ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `request body exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Writes a complete response. HEAD responses and 204/304 never carry a body. */
export function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body?: string | Buffer,
): void {
  const payload = body === undefined || req.method === "HEAD" || status === 204 ? undefined : body;
  const all: Record<string, string | number> = { ...headers };
  if (status !== 204) all["content-length"] = payload === undefined ? 0 : Buffer.byteLength(payload);
  res.writeHead(status, all);
  res.end(payload);
}
