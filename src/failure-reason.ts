/**
 * Why a request failed, in words a user can act on. A request that got no answer is described by its root
 * cause: Node's fetch wraps the socket's error once or twice (`fetch failed` ← `connect ECONNREFUSED`), undici
 * throws it bare, Bun and Deno name it in a code or a message. An answer that is not the store's is summarised
 * by its status, type and size, never quoted: it may be a page of HTML, or echo a request's credentials.
 */
import { isLeaseError } from "./errors.ts";
import type { HttpResponse } from "./http.ts";

/** The first platform error code along `error`'s causes (and an AggregateError's `errors`), and the root message. */
function rootCause(error: unknown): { code: string; message: string } {
  let code = "";
  let message = "";
  const visit = (e: unknown, depth: number): void => {
    if (typeof e !== "object" || e === null || depth > 6) return;
    const { code: c, message: m, cause, errors } = e as Record<string, unknown>;
    // A leasehold error's code names its class, not the platform's cause.
    if (!code && typeof c === "string" && !isLeaseError(e)) code = c;
    if (typeof m === "string" && m) message = m;
    if (Array.isArray(errors)) visit(errors[0], depth + 1);
    visit(cause, depth + 1);
  };
  visit(error, 0);
  return { code, message: message || String(error) };
}

/** Node's code and Bun's for a refused connection. */
const REFUSED = /^(ECONNREFUSED|ConnectionRefused)$/;

/**
 * True when `error` or one of its causes is a refused connection, by its code: the request never reached
 * the server, so sending it elsewhere cannot apply it twice.
 */
export const connectionRefused = (error: unknown): boolean => REFUSED.test(rootCause(error).code);

/**
 * Causes, by their code or the platform's words (Node, undici, Bun, Deno), and what to say: `$c` is the code
 * in parentheses, `$o` the origin, `$h` the host, `$n` where TLS options go (the Node transport: fetch has
 * none), `$r` what a closed connection suggests for the scheme used. The first match wins; anything else is
 * told in the platform's own words.
 */
const CAUSES: [RegExp, string][] = [
  [/REFUSED|connection refused/i, "connection refused$c: is the server listening at $o?"],
  [/ENOTFOUND|EAI_AGAIN|dns error/i, "unknown host $h$c"],
  [/ALTNAME/, "the server's certificate does not name $h$c"],
  [/EXPIRED|NOT_YET/i, "the server's certificate has expired or is not yet valid$c"],
  [
    /UNABLE_TO|SIGNED|CERT_|certificate verif|peer cert/i,
    "the server's certificate is not trusted$c: pass its CA as tls: { ca }$n",
  ],
  [
    /WRONG.VERSION|PACKET.LENGTH|EPROTO|InvalidContentType/i,
    "$o does not speak TLS$c: is it an http:// endpoint?",
  ],
  // Mostly a scheme mismatch (etcd serving TLS drops plain HTTP unanswered, and TLS when serving plain HTTP),
  // or a client certificate missing (its TLS alert often arrives as the close).
  [/RESET|SOCKET|EPIPE|ALERT/, "the server closed the connection$c: $r"],
];

/**
 * The reason a request to `url` got no answer, from what its transport threw, e.g.
 * `connection refused (ECONNREFUSED): is the server listening at http://127.0.0.1:2379?`.
 */
export function failureReason(error: unknown, url: string): string {
  const { code, message } = rootCause(error);
  let o = url;
  let h = url;
  try {
    ({ origin: o, hostname: h } = new URL(url));
  } catch {}
  const words: Record<string, string> = {
    c: code ? ` (${code})` : "",
    o,
    h,
    n: " to the Node transport of leasehold/node",
    r: o.startsWith("https:")
      ? "is it an http:// endpoint, or does it require a client certificate (tls: { cert, key }$n)?"
      : "is it an https:// endpoint?",
  };
  const known = CAUSES.find(([pattern]) => pattern.test(`${code} ${message}`));
  const fill = (t: string): string => t.replace(/\$(\w)/g, (_, k: string) => fill(words[k] ?? ""));
  if (known) return fill(known[1]);
  const text = message.trim();
  return code && !text.includes(code) ? `${text} (${code})` : text;
}

/**
 * The reason of a failed request's error without the request it names: what toTransportError wrote after
 * `<METHOD> <url> failed: `, or `timed out`.
 */
export const reasonOnly = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).replace(/^[A-Z]+ \S+ (failed: )?/, "");

/**
 * A summary of an answer that is not `expected`, and `hint`, e.g. `answered HTTP 404 with text/html (1234 bytes),
 * not etcd's JSON gateway: is the endpoint etcd's client URL?`: its status, content type and size, never its body.
 */
export function foreignAnswer(
  { status, headers, body }: HttpResponse,
  expected: string,
  hint: string,
): string {
  const type = headers["content-type"]?.split(";", 1)[0]?.trim() || "no content type";
  return `answered HTTP ${status} with ${type} (${new TextEncoder().encode(body).length} bytes), not ${expected}: ${hint}`;
}
