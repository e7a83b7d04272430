/**
 * The gateway's JSON entities, written the way Apache's Java gateway writes them (Jersey's "mapped" JAXB
 * notation): fields in declaration order, Java nulls left out, empty strings written as `null` (but an empty
 * byte array as `""`), empty lists left out, and the stat fields as bare JSON numbers, exact to 64 bits (so
 * they can exceed 2^53).
 */
import type { ZStat } from "./zk.ts";

/** A byte array field: base64, written as a string even when empty. */
interface Base64Field {
  base64: string;
}

type Field = string | bigint | number | readonly string[] | Base64Field | null | undefined;

/** Serialises `[name, value]` pairs; `undefined` (a Java null) and empty lists are left out. */
export function jsonObject(fields: readonly (readonly [string, Field])[]): string {
  const parts: string[] = [];
  for (const [name, value] of fields) {
    if (value === undefined) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    let text: string;
    if (typeof value === "bigint" || typeof value === "number") text = String(value);
    else if (value === null || value === "") text = "null";
    else if (typeof value === "object" && "base64" in value) text = JSON.stringify(value.base64);
    else text = JSON.stringify(value);
    parts.push(`${JSON.stringify(name)}:${text}`);
  }
  return `{${parts.join(",")}}`;
}

function statFields(stat: ZStat): [string, Field][] {
  return [
    ["czxid", stat.czxid],
    ["mzxid", stat.mzxid],
    ["ctime", stat.ctime],
    ["mtime", stat.mtime],
    ["version", stat.version],
    ["cversion", stat.cversion],
    ["aversion", stat.aversion],
    ["ephemeralOwner", stat.ephemeralOwner],
    ["dataLength", stat.dataLength],
    ["numChildren", stat.numChildren],
    ["pzxid", stat.pzxid],
  ];
}

/** The stat fields, for the extension's answers (a multi's set results, a watch's states), then `extra`. */
export function statJson(stat: ZStat, extra: readonly (readonly [string, Field])[] = []): string {
  return jsonObject([...statFields(stat), ...extra]);
}

/**
 * STAT: `data64` (base64) or, with `?dataformat=utf8`, `dataUtf8`; neither when the znode stores no data or
 * when the entity answers a set (`data` undefined).
 */
export function statEntity(
  path: string,
  uri: string,
  data: Buffer | null | undefined,
  dataformat: string,
  stat: ZStat,
): string {
  const utf8 = dataformat === "utf8";
  const present = data !== null && data !== undefined;
  return jsonObject([
    ["path", path],
    ["uri", uri],
    ["data64", present && !utf8 ? { base64: data.toString("base64") } : undefined],
    ["dataUtf8", present && utf8 ? data.toString("utf8") : undefined],
    ...statFields(stat),
  ]);
}

/** PATH: the znode's path and the URI of the resource the request addressed. */
export function pathEntity(path: string, uri: string): string {
  return jsonObject([
    ["path", path],
    ["uri", uri],
  ]);
}

/** CHILD: child names only; `child_uri_template` has a `{child}` placeholder. */
export function childrenEntity(path: string, uri: string, children: readonly string[]): string {
  const template = `${uri.endsWith("/") ? uri : `${uri}/`}{child}`;
  return jsonObject([
    ["path", path],
    ["uri", uri],
    ["child_uri_template", template],
    ["children", children],
  ]);
}

/** SESSION: the gateway session's UUID and URI. */
export function sessionEntity(id: string, uri: string): string {
  return jsonObject([
    ["id", id],
    ["uri", uri],
  ]);
}

/** ZError: the full request URI (with query) and a message. */
export function errorEntity(request: string, message: string): string {
  return jsonObject([
    ["request", request],
    ["message", message],
  ]);
}
