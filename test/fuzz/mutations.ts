/**
 * Mutations of one recorded answer, as fast-check arbitraries. Body mutations work on the JSON losslessly (the
 * numbers keep their source text, so ZooKeeper's 64-bit stat fields survive); field choices are indexes taken
 * modulo the fields the answer has, so that one arbitrary fits every answer.
 */
import fc from "fast-check";

/** A JSON number kept as its source text. */
class Raw {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

type Json = null | boolean | string | Raw | Json[] | { [key: string]: Json };
type Path = (string | number)[];

export type BodyMutation =
  | { kind: "drop"; at: number }
  | { kind: "retype"; at: number; value: unknown }
  | { kind: "int64"; at: number; text: string }
  | { kind: "base64"; at: number; text: string }
  | { kind: "truncate"; fraction: number }
  | { kind: "nonJson"; body: string };

export type AnswerMutation =
  | BodyMutation
  | { kind: "status"; status: number; challenge: boolean }
  | { kind: "grpc"; status: number; code: number; echo: boolean; stream: boolean }
  | { kind: "echo"; status: number };

/** Mutations only a real connection can carry. */
export type WireMutation =
  | { kind: "huge"; declared: boolean }
  | { kind: "drip" }
  | { kind: "stall" }
  | { kind: "reset"; fraction: number }
  | { kind: "redirect"; status: number };

export type Mutation = AnswerMutation | WireMutation;

/** Not int64s as protojson or Jackson write them, or ones out of a field's range. */
export const BAD_INT64 = [
  "9999999999999999999",
  "9223372036854775808",
  "-9223372036854775809",
  "18446744073709551616",
  "100000000000000000000000000000",
  "-0",
  "0",
  "-1",
  "1.5",
  "1e3",
  "1E+2",
  "01",
  "+1",
  "",
  "0x10",
  "9223372036854775807",
  "3600",
  "NaN",
];

export const BAD_BASE64 = ["!!!", "QQ", "QQ=", "Q===", "QR==", "A B=", "ä", "-_8=", "====", "YQ==YQ=="];

const STATUSES = [
  200, 201, 204, 301, 302, 303, 307, 308, 400, 401, 403, 404, 409, 412, 429, 500, 502, 503, 504,
];
const NON_JSON = [
  "",
  "<html>502 Bad Gateway</html>",
  "null",
  "[]",
  "{}",
  '"x"',
  '{"result":',
  "NaN",
  "\u0000",
];

const at = fc.nat({ max: 10_000 });

export const answerMutation: fc.Arbitrary<AnswerMutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("drop" as const), at }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("retype" as const),
      at,
      value: fc.constantFrom(null, true, false, 0, 1.5, "x", "", [], {}, [1], { a: 1 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("int64" as const), at, text: fc.constantFrom(...BAD_INT64) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("base64" as const), at, text: fc.constantFrom(...BAD_BASE64) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("truncate" as const),
      fraction: fc.double({ min: 0, max: 0.999, noNaN: true }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("nonJson" as const), body: fc.constantFrom(...NON_JSON) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("status" as const),
      status: fc.constantFrom(...STATUSES),
      challenge: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("grpc" as const),
      status: fc.constantFrom(200, 400, 401, 403, 404, 409, 412, 429, 500, 503),
      code: fc.integer({ min: 0, max: 16 }),
      echo: fc.boolean(),
      stream: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("echo" as const),
      status: fc.constantFrom(200, 400, 401, 403, 500),
    }),
  },
);

export const wireMutation: fc.Arbitrary<WireMutation> = fc.oneof(
  fc.record({ kind: fc.constant("huge" as const), declared: fc.boolean() }),
  fc.record({ kind: fc.constant("drip" as const) }),
  fc.record({ kind: fc.constant("stall" as const) }),
  fc.record({
    kind: fc.constant("reset" as const),
    fraction: fc.double({ min: 0, max: 0.999, noNaN: true }),
  }),
  fc.record({ kind: fc.constant("redirect" as const), status: fc.constantFrom(301, 302, 303, 307, 308) }),
);

/** int64s in range, in the canonical form: a mutation to one of them leaves a valid answer, of other meaning. */
const VALID_INT64 = new Set(["0", "-1", "3600", "9223372036854775807"]);

/**
 * How a mutation leaves the answer: "invalid" (no valid answer: a positive result must be what the intact
 * answer gave), "weaker" (a drop of a field, another status: leadership may vanish, never appear or change), or
 * "valid" (another valid answer: the result must only be well-formed).
 */
export function effectOf(m: Mutation): "invalid" | "weaker" | "valid" {
  if (m.kind === "drop" || m.kind === "status") return "weaker";
  return m.kind === "int64" && VALID_INT64.has(m.text) ? "valid" : "invalid";
}

function parseLossless(text: string): Json {
  return JSON.parse(text, (_key, value, context?: { source?: string }) =>
    typeof value === "number" ? new Raw(context?.source ?? String(value)) : value,
  ) as Json;
}

function stringifyLossless(value: Json): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Raw) {
      raws.push(v.text);
      return `@@raw:${raws.length - 1}@@`;
    }
    return v;
  });
  return text.replace(/"@@raw:(\d+)@@"/g, (_m, i: string) => raws[Number(i)] as string);
}

/** Every field path of a JSON value (object members and array items), depth first. */
function paths(value: Json, prefix: Path = []): Path[] {
  if (value === null || typeof value !== "object" || value instanceof Raw) return [];
  const entries: [string | number, Json][] = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : Object.entries(value);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])]);
}

const get = (root: Json, path: Path): Json =>
  path.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k] as Json, root);

function set(root: Json, path: Path, value: Json | undefined): void {
  const parent = get(root, path.slice(0, -1)) as Record<string | number, Json>;
  const key = path.at(-1) as string | number;
  if (value !== undefined) parent[key] = value;
  else if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete parent[key];
}

const typeOf = (v: Json) =>
  v instanceof Raw || typeof v === "number"
    ? "number"
    : Array.isArray(v)
      ? "array"
      : v === null
        ? "null"
        : typeof v;

const INTEGER_TEXT = /^-?\d+$/;
const BASE64_FIELDS = new Set(["key", "value", "data64", "range_end"]);

/**
 * The body after a body mutation; null when the mutation has nothing to act on in this body (the answer is
 * then served intact).
 */
export function mutateBody(body: string, m: BodyMutation): string | null {
  if (m.kind === "truncate")
    return body.length > 0 ? body.slice(0, Math.floor(m.fraction * body.length)) : null;
  if (m.kind === "nonJson") return m.body === body ? null : m.body;
  let root: Json;
  try {
    root = parseLossless(body);
  } catch {
    return null;
  }
  const all = paths(root);
  const eligible =
    m.kind === "int64"
      ? all.filter((p) => {
          const v = get(root, p);
          return v instanceof Raw || (typeof v === "string" && INTEGER_TEXT.test(v));
        })
      : m.kind === "base64"
        ? all.filter((p) => BASE64_FIELDS.has(String(p.at(-1))) && typeof get(root, p) === "string")
        : all;
  if (eligible.length === 0) return null;
  const path = eligible[m.at % eligible.length] as Path;
  // A retype keeps no JSON type: "" for a string is another valid value, not a broken answer.
  if (m.kind === "retype" && typeOf(m.value as Json) === typeOf(get(root, path))) return null;
  if (m.kind === "drop") set(root, path, undefined);
  else if (m.kind === "retype") set(root, path, m.value as Json);
  else if (m.kind === "base64") set(root, path, m.text);
  else set(root, path, get(root, path) instanceof Raw ? new Raw(m.text || "0") : m.text);
  return stringifyLossless(root);
}

/** A gRPC status body as etcd's gateway writes it (or, in a keepalive stream, wrapped as `{"error": ...}`). */
export function grpcBody(code: number, message: string, stream: boolean): string {
  return stream
    ? JSON.stringify({ error: { grpc_code: code, http_code: 500, message, http_status: "x" } })
    : JSON.stringify({ error: message, code, message });
}
