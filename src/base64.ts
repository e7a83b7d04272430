/**
 * Base64 for the stores' bytes fields (etcd keys and values, znode data), with btoa/atob so that it runs where
 * there is no Buffer (Workers).
 */
import { MalformedResponseError } from "./errors.ts";

const CHUNK = 0x8000;

export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/** @throws {MalformedResponseError} `${what} is not base64` when `text` is not base64. */
export function decodeBase64(text: string, what: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch (error) {
    throw new MalformedResponseError(`${what} is not base64`, { cause: error });
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
