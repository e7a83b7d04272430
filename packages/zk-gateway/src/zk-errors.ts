/**
 * The errors of the gateway's ZooKeeper calls: ZooKeeper's error codes by the Java client's names, and the
 * call deadline.
 */
import { Exception } from "node-zookeeper-client";

/**
 * ZooKeeper's error codes by number, named as the Java client's `KeeperException.Code` names them (the
 * names the Java gateway's messages and this gateway's multi extension use).
 */
const CODE_NAMES: Readonly<Record<number, string>> = {
  [-1]: "SYSTEMERROR",
  [-2]: "RUNTIMEINCONSISTENCY",
  [-3]: "DATAINCONSISTENCY",
  [-4]: "CONNECTIONLOSS",
  [-5]: "MARSHALLINGERROR",
  [-6]: "UNIMPLEMENTED",
  [-7]: "OPERATIONTIMEOUT",
  [-8]: "BADARGUMENTS",
  [-100]: "APIERROR",
  [-101]: "NONODE",
  [-102]: "NOAUTH",
  [-103]: "BADVERSION",
  [-108]: "NOCHILDRENFOREPHEMERALS",
  [-110]: "NODEEXISTS",
  [-111]: "NOTEMPTY",
  [-112]: "SESSIONEXPIRED",
  [-113]: "INVALIDCALLBACK",
  [-114]: "INVALIDACL",
  [-115]: "AUTHFAILED",
};

/** A failed ZooKeeper call: `code` is the Java name (e.g. "NONODE"), `path` the znode it concerned. */
export class KeeperError extends Error {
  readonly code: string;
  readonly path: string;

  constructor(code: string, path: string) {
    super(`KeeperErrorCode = ${code} for ${path}`);
    this.name = "KeeperError";
    this.code = code;
    this.path = path;
  }
}

/** The call did not finish before the gateway's ZooKeeper deadline. */
export class ZkTimeoutError extends Error {
  readonly path: string;

  constructor(what: string, path: string, ms: number) {
    super(`ZooKeeper ${what} for ${path} did not finish within ${ms} ms`);
    this.name = "ZkTimeoutError";
    this.path = path;
  }
}

/**
 * The call was not sent: this connection to a re-attachable session is gone (another connection, perhaps
 * another gateway instance, took the session over, or ZooKeeper dropped it). Safe to retry on a new one.
 */
export class ZkDetachedError extends Error {
  readonly path: string;

  constructor(path: string) {
    super(`the ZooKeeper connection for ${path} was lost before the call was sent`);
    this.name = "ZkDetachedError";
    this.path = path;
  }
}

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `UNKNOWN(${code})`;
}

export function toKeeperError(error: unknown, path: string): Error {
  if (error instanceof Exception) return new KeeperError(codeName(error.getCode()), path);
  return error instanceof Error ? error : new Error(String(error));
}
