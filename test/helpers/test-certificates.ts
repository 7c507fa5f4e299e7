// Certificates made in the test with Debian's openssl (P-256 keys: generated in milliseconds): a CA,
// and leaf certificates it signs for localhost and 127.0.0.1, each with the serial the test asks for,
// so a test can tell which certificate a connection was served. Everything lives in a temp folder.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Leaf {
  readonly certFile: string;
  readonly keyFile: string;
  /** as Node reports it (X509Certificate#serialNumber, getPeerCertificate().serialNumber): upper-case hex */
  readonly serial: string;
}

export interface TestCa {
  readonly dir: string;
  readonly caFile: string;
  /** the CA certificate's PEM text, for a client's `ca` */
  readonly caPem: string;
  /**
   * A leaf signed by this CA, valid `days` (negative: expired), with serial `serial` (hex); `clientAuth`
   * makes it a client certificate too (Redis Cluster nodes present theirs on the TLS cluster bus).
   */
  issue(name: string, serial: string, options?: { days?: number; clientAuth?: boolean }): Leaf;
  remove(): void;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makeCa(): TestCa {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-certs-'));
  openssl(
    ['req', '-x509', ...NEW_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=custody-proxy test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  const ext = (usage: string): string => `subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=${usage}\n`;
  writeFileSync(path.join(dir, 'leaf.ext'), ext('serverAuth'));
  writeFileSync(path.join(dir, 'leaf-client.ext'), ext('serverAuth,clientAuth'));
  const caFile = path.join(dir, 'ca.crt');
  return {
    dir,
    caFile,
    caPem: readFileSync(caFile, 'utf8'),
    issue(name, serial, options = {}) {
      const keyFile = path.join(dir, `${name}.key`);
      const certFile = path.join(dir, `${name}.crt`);
      openssl(['req', '-new', ...NEW_KEY, '-keyout', keyFile, '-out', `${name}.csr`, '-subj', `/CN=localhost/O=${name}`], dir);
      openssl(
        ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${serial}`,
          '-days', String(options.days ?? 2), '-extfile', options.clientAuth ? 'leaf-client.ext' : 'leaf.ext', '-out', certFile],
        dir,
      );
      return { certFile, keyFile, serial: serial.toUpperCase() };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
