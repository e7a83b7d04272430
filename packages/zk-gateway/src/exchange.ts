/**
 * One request as the route handlers see it, and the mapping of ZooKeeper errors to HTTP answers that
 * Apache's gateway uses (its KeeperExceptionMapper): status codes and messages.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError } from "./http.ts";
import { KeeperError, ZkDetachedError, ZkTimeoutError } from "./zk.ts";

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** The request URL, absolute (origin from the Host header). */
  url: URL;
  /** Origin + path, without the query: the `uri` field of entities. */
  absolutePath: string;
  /** The full request URI with its query: the `request` field of errors. */
  requestUri: string;
}

/** Builds the exchange; the origin comes from the Host header, as the Java gateway's UriInfo does. */
export function exchangeOf(req: IncomingMessage, res: ServerResponse, fallbackHost: string): Exchange {
  const host = req.headers.host ?? fallbackHost;
  const url = new URL(req.url ?? "/", `http://${host}`);
  return { req, res, url, absolutePath: `${url.origin}${url.pathname}`, requestUri: url.href };
}

/** A query parameter with a default, as JAX-RS `@DefaultValue` gives it. */
export function param(ex: Exchange, name: string, fallback: string): string {
  return ex.url.searchParams.get(name) ?? fallback;
}

const INT32 = /^[+-]?\d{1,10}$/;

/**
 * Parses `?version=` the way Java's Integer.parseInt does (optional sign, decimal, 32-bit).
 * @throws {HttpError} 400 `<path> bad version <value>`.
 */
export function versionParam(ex: Exchange, path: string): number {
  const raw = param(ex, "version", "-1");
  const value = INT32.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
    throw new HttpError(400, `${path} bad version ${raw}`);
  }
  return value;
}

/** The status and message Apache's gateway answers a failed ZooKeeper call with. */
export function keeperAnswer(error: KeeperError): HttpError {
  const path = error.path;
  switch (error.code) {
    case "AUTHFAILED":
      return new HttpError(401, `${path} not authorized`);
    case "BADARGUMENTS":
      return new HttpError(400, `${path} bad arguments`);
    case "BADVERSION":
      return new HttpError(412, `${path} bad version`);
    case "INVALIDACL":
      return new HttpError(400, `${path} invalid acl`);
    case "NODEEXISTS":
      return new HttpError(409, `${path} already exists`);
    case "NONODE":
      return new HttpError(404, `${path} not found`);
    case "NOTEMPTY":
      return new HttpError(409, `${path} not empty`);
    default:
      return new HttpError(502, `Error processing request for ${path} : ${error.message}`);
  }
}

/** Maps anything a handler threw to the answer: HTTP errors as they are, ZooKeeper errors as above. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof KeeperError) return keeperAnswer(error);
  if (error instanceof ZkTimeoutError) return new HttpError(504, error.message);
  if (error instanceof ZkDetachedError) return new HttpError(503, error.message);
  return new HttpError(500, `Error processing request due to ${String(error)}`);
}
