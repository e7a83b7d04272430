/**
 * Optional HTTP basic auth, as Apache's gateway offers it (`rest.http.auth = user:pass,...`): a request
 * without matching credentials gets 401 with `WWW-Authenticate: Basic realm="Restricted"`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** Credentials: password by user name. */
export type Credentials = ReadonlyMap<string, string>;

export const CHALLENGE = 'Basic realm="Restricted"';

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * Parses `user:pass` entries separated by commas or newlines (blank lines and `#` comments ignored).
 * @throws {Error} an entry without a colon or with an empty user name.
 */
export function parseCredentials(text: string): Map<string, string> {
  const credentials = new Map<string, string>();
  for (const line of text.split(/[\n,]/)) {
    const entry = line.trim();
    if (entry === "" || entry.startsWith("#")) continue;
    const colon = entry.indexOf(":");
    if (colon <= 0) throw new Error(`basic auth entry "${entry.slice(0, 20)}..." must be user:password`);
    credentials.set(entry.slice(0, colon), entry.slice(colon + 1));
  }
  return credentials;
}

/** True when the request carries a user and password from `credentials`. */
export function authorized(req: IncomingMessage, credentials: Credentials): boolean {
  const header = req.headers.authorization ?? "";
  const [scheme, token] = header.split(" ");
  if (scheme?.toLowerCase() !== "basic" || !token) return false;
  const decoded = Buffer.from(token, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return false;
  const expected = credentials.get(decoded.slice(0, colon));
  if (expected === undefined) return false;
  // Equal-length digests keep the comparison constant-time whatever the password lengths.
  return timingSafeEqual(digest(decoded.slice(colon + 1)), digest(expected));
}
