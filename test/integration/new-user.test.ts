/**
 * What a new user meets: the packed tarball installed into a fresh project with only the declared peers, every
 * ```ts block of README.md and docs/*.md type-checked there exactly as the page shows it, the examples of the
 * runnable pages run, and the quick start run against a real etcd. An example that stops compiling, or a package
 * that only works inside this repository, fails here.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
const endpoint = inject("etcdEndpoint");
let app: string;
/** Docs pages whose every ```ts block is a whole program that runs on Node with no server. */
const RUNNABLE_PAGES = ["testing", "backend"] as const;
/** A block that imports these is edge code, type-checked with the Workers types; every other one with Node's. */
const EDGE_IMPORT = /from "(hono|leasehold\/hono|leasehold\/cloudflare)"/;
const REPORT_STAND_IN =
  'async function buildTheReport(token: bigint | null): Promise<string> { return "r" + String(token); }\n';
/** The ```ts blocks of README.md and docs/*.md, as files of the user's project (`<page>-<i>.ts`). */
const nodeBlocks: string[] = [];
const edgeBlocks: string[] = [];
/** The tarball's files, as `npm pack --json` lists them. */
let packed: string[];

/** Every ```ts block of a Markdown page. */
const tsBlocks = (markdown: string): string[] =>
  Array.from(markdown.matchAll(/```ts\n([\s\S]*?)```/g), (m) => m[1] as string);

/** The first ```ts block after `heading` in README.md, as the user reads it. */
export function readmeBlock(readme: string, heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no heading ${heading}`);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(start));
  if (!match?.[1]) throw new Error(`README.md has no ts block under ${heading}`);
  return match[1];
}

const npm = (args: string[], cwd: string) =>
  run("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, maxBuffer: 1 << 24 });

/** The versions this repository develops against, for the user project's own devDependencies. */
async function devVersion(pkg: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
  return manifest.devDependencies[pkg];
}

beforeAll(async () => {
  app = await mkdtemp(join(tmpdir(), "leasehold-new-user-"));
  await run(process.execPath, [join(root, "node_modules/tsup/dist/cli-default.js")], { cwd: root });
  const { stdout } = await npm(["pack", "--json", "--pack-destination", app], root);
  const [pack] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
  packed = pack.files.map((f) => f.path);
  const tarball = join(app, pack.filename);
  const deps = ["hono", "undici", "typescript", "@types/node", "@cloudflare/workers-types"];
  const versions = Object.fromEntries(await Promise.all(deps.map(async (d) => [d, await devVersion(d)])));
  await writeFile(
    join(app, "package.json"),
    JSON.stringify({
      name: "new-user-app",
      private: true,
      type: "module",
      dependencies: { leasehold: `file:${tarball}`, hono: versions.hono, undici: versions.undici },
      devDependencies: {
        typescript: versions.typescript,
        "@types/node": versions["@types/node"],
        "@cloudflare/workers-types": versions["@cloudflare/workers-types"],
      },
    }),
  );
  await npm(["install", "--prefer-offline"], app);
  const compilerOptions = {
    target: "ES2023",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  };
  const pages = ["README.md", ...(await readdir(join(root, "docs"))).map((f) => `docs/${f}`)];
  for (const page of pages.filter((p) => p.endsWith(".md"))) {
    const stem = page.replace(/^docs\//, "").replace(/\.md$/, "");
    for (const [i, code] of tsBlocks(await readFile(join(root, page), "utf8")).entries()) {
      const file = `${stem}-${i}.ts`;
      // The quick start calls a function of the user's own; this stands in for it.
      const preamble = code.includes("buildTheReport(") ? REPORT_STAND_IN : "";
      await writeFile(join(app, file), preamble + code);
      (EDGE_IMPORT.test(code) ? edgeBlocks : nodeBlocks).push(file);
    }
  }
  await writeFile(
    join(app, "tsconfig.node.json"),
    JSON.stringify({ compilerOptions: { ...compilerOptions, types: ["node"] }, files: nodeBlocks }),
  );
  await writeFile(
    join(app, "tsconfig.worker.json"),
    JSON.stringify({
      compilerOptions: { ...compilerOptions, lib: ["ES2023"], types: ["@cloudflare/workers-types"] },
      files: edgeBlocks,
    }),
  );
}, 180_000);

afterAll(async () => {
  if (app) await rm(app, { recursive: true, force: true });
});

describe("a new user's project", () => {
  it("installs the tarball, with zod and the docs the README links to", async () => {
    const manifest = JSON.parse(await readFile(join(app, "node_modules/leasehold/package.json"), "utf8"));
    expect(Object.keys(manifest.dependencies ?? {})).toEqual(["zod"]);
    const docs = await readFile(join(app, "node_modules/leasehold/docs/design.md"), "utf8");
    expect(docs.length).toBeGreaterThan(0);
  });

  it("holds the library alone: no gateway server (package @leasehold/zk-gateway), no ZooKeeper client", async () => {
    expect(packed).toContain("dist/zookeeper.js");
    expect(packed.filter((path) => /gateway|^packages\//.test(path))).toEqual([]);
    const installed = await readdir(join(app, "node_modules"));
    expect(installed).not.toContain("node-zookeeper-client");
    expect(installed).not.toContain("@leasehold");
  });

  it("type-checks every ts block of README.md and docs/*.md (Node, or Workers for edge code)", async () => {
    expect(nodeBlocks.length).toBeGreaterThanOrEqual(15);
    expect(edgeBlocks.length).toBeGreaterThanOrEqual(4);
    const tsc = join(app, "node_modules/typescript/bin/tsc");
    for (const project of ["tsconfig.node.json", "tsconfig.worker.json"]) {
      const result = await run(process.execPath, [tsc, "-p", project], { cwd: app }).catch(
        (error: { stdout?: string }) => ({ stdout: error.stdout ?? String(error) }),
      );
      expect(result.stdout, project).toBe("");
    }
  });

  it("runs every example of the runnable docs pages", async () => {
    for (const page of RUNNABLE_PAGES) {
      const examples = nodeBlocks.filter((f) => f.startsWith(`${page}-`));
      expect(examples.length, page).toBeGreaterThanOrEqual(2);
      for (const example of examples) await run(process.execPath, [example], { cwd: app });
    }
  });

  it("runs the quick start against etcd: it leads, then parks", async () => {
    const source =
      REPORT_STAND_IN + readmeBlock(await readFile(join(root, "README.md"), "utf8"), "## Quick start");
    expect(source).toContain('"http://127.0.0.1:2379"');
    const probe =
      "\nconsole.log(JSON.stringify({ isLeader: state.isLeader, after: lease.state().isLeader }));\n";
    await writeFile(
      join(app, "quickstart-run.ts"),
      source.replace('"http://127.0.0.1:2379"', JSON.stringify(endpoint)) + probe,
    );
    const { stdout } = await run(process.execPath, ["quickstart-run.ts"], { cwd: app });
    expect(JSON.parse(stdout.trim().split("\n").at(-1) as string)).toEqual({ isLeader: true, after: false });
  });
});
