/**
 * How leasehold names and transaction keys map to znode paths, and how znode paths go into gateway URLs.
 *
 * - Lease `jobs/nightly-report` under prefix `/leasehold` → leader znode `/leasehold/jobs^nightly-report`:
 *   all leader znodes are direct children of the prefix znode, with "/" written as "^" (a character lease
 *   names cannot contain), so that lease names that extend each other ("a" and "a/b") never collide with an
 *   ephemeral znode (which cannot have children), and no per-lease parent znodes pile up.
 * - Transaction key `jobs/last-run` → znode `/jobs/last-run` (the key, UTF-8, with a leading "/").
 */
import { InvalidArgumentError } from "../../src/backend-kit.ts";

/** Stands for "/" inside a leader znode's name. */
export const NAME_SEPARATOR = "^";

/**
 * True for a UTF-16 code unit ZooKeeper's PathUtils.validatePath refuses. Code units, not code points:
 * surrogates are refused one by one, so characters beyond U+FFFF are refused as Java refuses them.
 */
function refused(unit: number): boolean {
  return (
    unit <= 0x1f || (unit >= 0x7f && unit <= 0x9f) || (unit >= 0xd800 && unit <= 0xf8ff) || unit >= 0xfff0
  );
}

/**
 * One znode name: not empty, not "." or "..", no "/" and no character ZooKeeper refuses (control
 * characters, surrogates and so characters beyond U+FFFF, private use, U+FFF0 to U+FFFF).
 * @throws {InvalidArgumentError} for `field`.
 */
export function validateZnodeSegment(segment: string, field: string): void {
  if (segment === "" || segment === "." || segment === "..") {
    throw new InvalidArgumentError(field, 'must not have empty, "." or ".." path segments');
  }
  if (segment.includes("/")) throw new InvalidArgumentError(field, 'segment must not contain "/"');
  if (Array.from({ length: segment.length }, (_, i) => segment.charCodeAt(i)).some(refused)) {
    throw new InvalidArgumentError(
      field,
      "must not contain characters ZooKeeper refuses in paths (control characters, characters beyond U+FFFF, U+D800-U+F8FF, U+FFF0-U+FFFF)",
    );
  }
}

/** The leader znode of lease `name` under `root` (an absolute znode path). */
export function leaderPath(root: string, name: string): string {
  const segments = name.split("/");
  for (const segment of segments) validateZnodeSegment(segment, "name");
  return `${root}/${segments.join(NAME_SEPARATOR)}`;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The znode of a transaction key: "/" + the key as UTF-8 text.
 * @throws {InvalidArgumentError} for `field` when the key is not UTF-8 or not a relative znode path.
 */
export function keyPath(key: Uint8Array, field: string): string {
  let text: string;
  try {
    text = utf8.decode(key);
  } catch {
    throw new InvalidArgumentError(field, "must be UTF-8 text on ZooKeeper (a znode path)");
  }
  if (text.startsWith("/")) {
    throw new InvalidArgumentError(
      field,
      'must be a relative znode path such as "jobs/last-run" (no leading "/")',
    );
  }
  for (const segment of text.split("/")) validateZnodeSegment(segment, field);
  return `/${text}`;
}

/** The proper ancestors of an absolute znode path, outermost first, without "/": "/a/b/c" → ["/a", "/a/b"]. */
export function ancestors(path: string): string[] {
  const segments = path.split("/").slice(1, -1);
  return segments.map((_, i) => `/${segments.slice(0, i + 1).join("/")}`);
}

/** Splits an absolute znode path into its parent and last name: "/a/b" → ["/a", "b"], "/a" → ["/", "a"]. */
export function splitPath(path: string): [parent: string, name: string] {
  const at = path.lastIndexOf("/");
  return [at === 0 ? "/" : path.slice(0, at), path.slice(at + 1)];
}

/** The gateway URL of a znode: each segment percent-encoded; "/" → `<base>/znodes/v1/`. */
export function znodeUrl(base: string, path: string): string {
  return `${base}/znodes/v1${path === "/" ? "/" : path.split("/").map(encodeURIComponent).join("/")}`;
}
