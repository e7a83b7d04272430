/**
 * A throwaway PKI for TLS tests, made with openssl: a CA, a server certificate for 127.0.0.1 and localhost,
 * and a client certificate, all signed by that CA, plus a second CA that signed none of them.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestPki {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** A CA unrelated to the certificates above. */
  otherCaFile: string;
  /** A server certificate for 127.0.0.1 signed by its own key (no CA), and that key. */
  selfSignedCertFile: string;
  selfSignedKeyFile: string;
  /** PEM text of the files above. */
  ca: string;
  clientCert: string;
  clientKey: string;
  otherCa: string;
  remove(): Promise<void>;
}

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  await run("openssl", args, { cwd });
}

/** A self-signed certificate `<file>.pem` (key `<file>.key`) for `subject`, with the given X.509 extensions. */
async function selfSigned(dir: string, file: string, subject: string, extensions: string[]): Promise<void> {
  await openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${subject}`,
    "-keyout",
    `${file}.key`,
    "-out",
    `${file}.pem`,
    ...extensions.flatMap((extension) => ["-addext", extension]),
  );
}

const CA_EXTENSIONS = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"];

async function signed(dir: string, name: string, extensions: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(
    dir,
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
  );
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`,
  );
}

export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), "leasehold-pki-"));
  await selfSigned(dir, "ca", "ca", CA_EXTENSIONS);
  await selfSigned(dir, "other-ca", "other-ca", CA_EXTENSIONS);
  // A server certificate no CA signed: what a client that trusts only `ca` must refuse.
  await selfSigned(dir, "self-signed", "127.0.0.1", [
    "subjectAltName=IP:127.0.0.1",
    "extendedKeyUsage=serverAuth",
  ]);
  await signed(
    dir,
    "server",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
  );
  await signed(dir, "client", "extendedKeyUsage=clientAuth\n");
  const file = (name: string) => join(dir, name);
  return {
    dir,
    caFile: file("ca.pem"),
    serverCertFile: file("server.pem"),
    serverKeyFile: file("server.key"),
    clientCertFile: file("client.pem"),
    clientKeyFile: file("client.key"),
    otherCaFile: file("other-ca.pem"),
    selfSignedCertFile: file("self-signed.pem"),
    selfSignedKeyFile: file("self-signed.key"),
    ca: await readFile(file("ca.pem"), "utf8"),
    clientCert: await readFile(file("client.pem"), "utf8"),
    clientKey: await readFile(file("client.key"), "utf8"),
    otherCa: await readFile(file("other-ca.pem"), "utf8"),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
