/**
 * REST session IDs that carry their ZooKeeper session: the session's ID and password and the REST expire,
 * sealed with AES-256-GCM under the gateway's session key. Any gateway instance holding the key re-attaches
 * the session from the ID alone (after a restart, or behind one URL with other instances); clients can
 * neither read the password nor forge or alter an ID (the tag fails and the ID is unknown).
 *
 * Layout, base64url without padding (76 characters, inside the SESSION_ID alphabet of the clients):
 * `version (1 byte, 1) | nonce (12) | ciphertext (28) | tag (16)`; the plaintext is
 * `ZooKeeper session ID (8, big-endian) | password (16) | expire in seconds (4, big-endian)`, and the
 * version byte and a fixed label are the additional authenticated data.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { ZkCredentials } from "./zk.ts";

/** What a sealed REST session ID carries. */
export interface SessionTicket {
  zk: ZkCredentials;
  /** The REST session's expire, in seconds. */
  expireS: number;
}

/** Bytes of an AES-256 key. */
export const SESSION_KEY_BYTES = 32;

/** The largest expire a ticket may carry, in seconds: ZooKeeper's session timeout is an int32 of ms. */
export const MAX_EXPIRE_S = Math.floor(2147483647 / 1000);

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const PLAIN_BYTES = 8 + 16 + 4;
const SEALED_BYTES = 1 + NONCE_BYTES + PLAIN_BYTES + TAG_BYTES;
const LABEL = Buffer.from("leasehold-zk-gateway session");
const TOKEN = new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((SEALED_BYTES * 4) / 3)}}$`);

const aad = (version: number) => Buffer.concat([LABEL, Buffer.of(version)]);

/** Seals tickets with the first key and opens them with any (so that keys can be rotated). */
export class SessionSealer {
  readonly #keys: readonly Buffer[];

  /** @throws {RangeError} no key, or a key that is not {@link SESSION_KEY_BYTES} bytes long. */
  constructor(keys: readonly Uint8Array[]) {
    if (keys.length === 0) throw new RangeError("at least one session key is needed");
    for (const key of keys) {
      if (key.length !== SESSION_KEY_BYTES)
        throw new RangeError(`a session key must be ${SESSION_KEY_BYTES} bytes`);
    }
    this.#keys = keys.map((key) => Buffer.from(key));
  }

  /** A sealer with one random key: its IDs are known to this process only. */
  static ephemeral(): SessionSealer {
    return new SessionSealer([randomBytes(SESSION_KEY_BYTES)]);
  }

  /**
   * The REST session ID for `ticket`: a fresh nonce each time, so two seals never look alike.
   * @throws {RangeError} `expireS` is not a whole number from 1 to {@link MAX_EXPIRE_S}.
   */
  seal(ticket: SessionTicket): string {
    if (!Number.isInteger(ticket.expireS) || ticket.expireS < 1 || ticket.expireS > MAX_EXPIRE_S) {
      throw new RangeError(`expire must be a whole number of seconds from 1 to ${MAX_EXPIRE_S}`);
    }
    const plain = Buffer.alloc(PLAIN_BYTES);
    ticket.zk.id.copy(plain, 0, 0, 8);
    ticket.zk.password.copy(plain, 8, 0, 16);
    plain.writeUInt32BE(ticket.expireS, 24);
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#keys[0] as Buffer, nonce, {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(aad(VERSION));
    const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), nonce, sealed, cipher.getAuthTag()]).toString("base64url");
  }

  /** The ticket inside a REST session ID, or null when no key of this gateway sealed it as it is. */
  open(restSessionId: string): SessionTicket | null {
    if (!TOKEN.test(restSessionId)) return null;
    const raw = Buffer.from(restSessionId, "base64url");
    if (raw.length !== SEALED_BYTES || raw[0] !== VERSION) return null;
    const nonce = raw.subarray(1, 1 + NONCE_BYTES);
    const sealed = raw.subarray(1 + NONCE_BYTES, SEALED_BYTES - TAG_BYTES);
    const tag = raw.subarray(SEALED_BYTES - TAG_BYTES);
    for (const key of this.#keys) {
      const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(VERSION));
      decipher.setAuthTag(tag);
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(sealed), decipher.final()]);
      } catch {
        continue;
      }
      const expireS = plain.readUInt32BE(24);
      // Sealed by this gateway, so in range; checked all the same, as the ZooKeeper client throws beyond it.
      if (expireS < 1 || expireS > MAX_EXPIRE_S) return null;
      return {
        zk: { id: Buffer.from(plain.subarray(0, 8)), password: Buffer.from(plain.subarray(8, 24)) },
        expireS,
      };
    }
    return null;
  }
}

/**
 * Parses session keys: one per line (or comma-separated), each 32 bytes as base64, base64url or 64 hex
 * digits; blank lines and `#` comments are skipped. The first key seals new sessions.
 * @throws {RangeError} an entry that is not a 32-byte key (the message never contains the entry).
 */
export function parseSessionKeys(text: string): Buffer[] {
  const keys: Buffer[] = [];
  text.split(/[\n,]/).forEach((line, index) => {
    const entry = line.trim();
    if (entry === "" || entry.startsWith("#")) return;
    const key = /^[0-9a-fA-F]{64}$/.test(entry)
      ? Buffer.from(entry, "hex")
      : /^[A-Za-z0-9+/_-]{43}=?$/.test(entry)
        ? Buffer.from(entry, "base64")
        : null;
    if (key?.length !== SESSION_KEY_BYTES) {
      throw new RangeError(`session key entry ${index + 1} is not 32 bytes of base64 or hex`);
    }
    keys.push(key);
  });
  return keys;
}
