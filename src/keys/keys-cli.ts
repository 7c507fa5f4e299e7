// `custody-proxy keys …` (SPEC §2): create, rotate, activate, revoke, list. A new token is printed
// once on stdout and nothing else is; it is never written anywhere. Any error is one line on stderr
// and a non-zero exit, with the file untouched.
import { isMap, isSeq, type Document, type YAMLMap } from 'yaml';
import { parseDuration } from '../config/units.js';
import { parseCredentials } from '../credentials/document-load.js';
import { EditError, credentialNodes, editCredentialsFile, readDocumentText } from './document-edit.js';
import { envOf, generateKeyPair, type KeyEnv } from './key-gen.js';
import { formatSecretHash } from '../credentials/secret-hash.js';
import { EXIT_OK, UsageError, parseCommand, reportError, required, unknownSubcommand } from '../command-line.js';
import { ACTIVATE, CREATE, KEYS_USAGE, LIST, REVOKE, ROTATE } from './keys-commands.js';

function findCredential(doc: Document, keyId: string): YAMLMap {
  const node = credentialNodes(doc).find((n) => n.get('keyId') === keyId);
  if (!node) throw new EditError(`no credential with key id ${JSON.stringify(keyId)}`);
  return node;
}

function tenantExists(doc: Document, tenant: string): boolean {
  const seq = doc.get('tenants');
  return isSeq(seq) && seq.items.some((n) => isMap(n) && n.get('id') === tenant);
}

function addCredential(doc: Document, tenant: string, env: KeyEnv, status: string, label: string | undefined): string {
  const existing = new Set(credentialNodes(doc).map((n) => String(n.get('keyId'))));
  let pair = generateKeyPair(env);
  while (existing.has(pair.keyId)) pair = generateKeyPair(env);
  const record: Record<string, string> = { keyId: pair.keyId, tenant, status, secretHash: formatSecretHash(pair.secret) };
  if (label !== undefined) record['label'] = label;
  const seq = doc.get('credentials');
  if (isSeq(seq)) seq.add(doc.createNode(record));
  else doc.set('credentials', doc.createNode([record]));
  return pair.token;
}

/** The token to print, or undefined when --help was printed instead. */
function create(args: string[]): string | undefined {
  const parsed = parseCommand(args, CREATE);
  if (!parsed) return undefined;
  const { values } = parsed;
  const file = required(values.file, '--file CREDS', CREATE);
  const tenant = required(values.tenant, '--tenant ID', CREATE);
  const env = values.env ?? 'live';
  if (env !== 'live' && env !== 'test') throw new UsageError(`--env must be live or test, not ${JSON.stringify(env)}`);
  const status = values.status ?? 'active';
  if (status !== 'active' && status !== 'provisioned') throw new UsageError(`--status must be provisioned or active, not ${JSON.stringify(status)}`);
  return editCredentialsFile(file, (doc) => {
    if (!tenantExists(doc, tenant)) throw new EditError(`unknown tenant ${JSON.stringify(tenant)}`);
    return addCredential(doc, tenant, env, status, values.label);
  });
}

function rotate(args: string[]): string | undefined {
  const parsed = parseCommand(args, ROTATE);
  if (!parsed) return undefined;
  const { values } = parsed;
  const keyId = parsed.positionals[0] ?? '';
  const file = required(values.file, '--file CREDS', ROTATE);
  const graceMs = parseDuration(values.grace ?? '24h');
  if (graceMs === undefined) throw new UsageError(`--grace must be a duration like 30m or 24h, not ${JSON.stringify(values.grace)}`);
  return editCredentialsFile(file, (doc) => {
    const old = findCredential(doc, keyId);
    const status = String(old.get('status'));
    if (status !== 'active') throw new EditError(`only an active key can be rotated; ${keyId} is ${status}`);
    const label = old.get('label');
    const token = addCredential(doc, String(old.get('tenant')), envOf(keyId), 'active', label === undefined ? undefined : String(label));
    old.set('status', 'rotated');
    old.set('graceUntil', new Date(Date.now() + graceMs).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    return token;
  });
}

function setStatus(args: string[], status: 'active' | 'revoked'): void {
  const spec = status === 'active' ? ACTIVATE : REVOKE;
  const parsed = parseCommand(args, spec);
  if (!parsed) return;
  const keyId = parsed.positionals[0] ?? '';
  editCredentialsFile(required(parsed.values.file, '--file CREDS', spec), (doc) => {
    const node = findCredential(doc, keyId);
    if (status === 'active' && node.get('status') === 'revoked') throw new EditError(`${keyId} is revoked; revocation is permanent`);
    node.set('status', status);
    if (status === 'revoked') node.delete('graceUntil');
  });
}

function list(args: string[]): string | undefined {
  const parsed = parseCommand(args, LIST);
  if (!parsed) return undefined;
  const file = required(parsed.values.file, '--file CREDS', LIST);
  const result = parseCredentials(readDocumentText(file));
  if (!result.ok) throw new EditError(`${file} is not a valid credentials document: ${result.problems[0] ?? ''}`);
  const rows = [['KEY ID', 'TENANT', 'STATUS', 'GRACE UNTIL', 'LABEL']];
  for (const c of result.snapshot.byKeyId.values()) {
    rows.push([c.keyId, c.tenant.id, c.status, c.graceUntil === undefined ? '-' : new Date(c.graceUntil).toISOString(), c.label ?? '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

const print = (text: string | undefined): void => {
  if (text !== undefined) process.stdout.write(`${text}\n`);
};

/** `custody-proxy keys …`: 0 done (or help printed), 1 failed, 2 usage error; errors are one stderr line. */
export async function runKeys(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'create':
        print(create(rest));
        break;
      case 'rotate':
        print(rotate(rest));
        break;
      case 'activate':
        setStatus(rest, 'active');
        break;
      case 'revoke':
        setStatus(rest, 'revoked');
        break;
      case 'list':
        print(list(rest));
        break;
      case '--help':
      case '-h':
        print(KEYS_USAGE);
        break;
      default:
        throw unknownSubcommand('keys', sub, ['create', 'rotate', 'activate', 'revoke', 'list']);
    }
    return EXIT_OK;
  } catch (err) {
    return reportError(`custody-proxy keys${sub && !sub.startsWith('-') ? ` ${sub}` : ''}`, err);
  }
}
