// `custody-proxy keys …` (SPEC §2): create, rotate, activate, revoke, list. A new token is printed
// once on stdout and nothing else is; it is never written anywhere. Any error is one line on stderr
// and a non-zero exit, with the file untouched.
import { parseArgs } from 'node:util';
import { isMap, isSeq, type Document, type YAMLMap } from 'yaml';
import { parseDuration } from '../config/units.js';
import { parseCredentials } from '../credentials/document-load.js';
import { EditError, credentialNodes, editCredentialsFile, readDocumentText } from './document-edit.js';
import { envOf, generateKeyPair, type KeyEnv } from './key-gen.js';
import { formatSecretHash } from '../credentials/secret-hash.js';

class UsageError extends Error {}

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

function create(args: string[]): string {
  const { values } = parseArgs({
    args,
    options: { file: { type: 'string' }, tenant: { type: 'string' }, env: { type: 'string' }, status: { type: 'string' }, label: { type: 'string' } },
    strict: true,
  });
  const { file, tenant } = values;
  if (!file || !tenant) throw new UsageError('keys create needs --file CREDS and --tenant ID');
  const env = values.env ?? 'live';
  if (env !== 'live' && env !== 'test') throw new UsageError(`--env must be live or test, not ${JSON.stringify(env)}`);
  const status = values.status ?? 'active';
  if (status !== 'active' && status !== 'provisioned') throw new UsageError(`--status must be provisioned or active, not ${JSON.stringify(status)}`);
  return editCredentialsFile(file, (doc) => {
    if (!tenantExists(doc, tenant)) throw new EditError(`unknown tenant ${JSON.stringify(tenant)}`);
    return addCredential(doc, tenant, env, status, values.label);
  });
}

function rotate(args: string[]): string {
  const { values, positionals } = parseArgs({ args, options: { file: { type: 'string' }, grace: { type: 'string' } }, allowPositionals: true, strict: true });
  const [keyId] = positionals;
  if (!values.file || !keyId || positionals.length !== 1) throw new UsageError('keys rotate needs KEYID and --file CREDS');
  const graceMs = parseDuration(values.grace ?? '24h');
  if (graceMs === undefined) throw new UsageError(`--grace must be a duration like 30m or 24h, not ${JSON.stringify(values.grace)}`);
  return editCredentialsFile(values.file, (doc) => {
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
  const { values, positionals } = parseArgs({ args, options: { file: { type: 'string' } }, allowPositionals: true, strict: true });
  const [keyId] = positionals;
  if (!values.file || !keyId || positionals.length !== 1) throw new UsageError(`keys ${status === 'active' ? 'activate' : 'revoke'} needs KEYID and --file CREDS`);
  editCredentialsFile(values.file, (doc) => {
    const node = findCredential(doc, keyId);
    if (status === 'active' && node.get('status') === 'revoked') throw new EditError(`${keyId} is revoked; revocation is permanent`);
    node.set('status', status);
    if (status === 'revoked') node.delete('graceUntil');
  });
}

function list(args: string[]): string {
  const { values } = parseArgs({ args, options: { file: { type: 'string' } }, strict: true });
  if (!values.file) throw new UsageError('keys list needs --file CREDS');
  const result = parseCredentials(readDocumentText(values.file));
  if (!result.ok) throw new EditError(`${values.file} is not a valid credentials document: ${result.problems[0] ?? ''}`);
  const rows = [['KEY ID', 'TENANT', 'STATUS', 'GRACE UNTIL', 'LABEL']];
  for (const c of result.snapshot.byKeyId.values()) {
    rows.push([c.keyId, c.tenant.id, c.status, c.graceUntil === undefined ? '-' : new Date(c.graceUntil).toISOString(), c.label ?? '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

export async function runKeys(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'create':
        process.stdout.write(`${create(rest)}\n`);
        return 0;
      case 'rotate':
        process.stdout.write(`${rotate(rest)}\n`);
        return 0;
      case 'activate':
        setStatus(rest, 'active');
        return 0;
      case 'revoke':
        setStatus(rest, 'revoked');
        return 0;
      case 'list':
        process.stdout.write(`${list(rest)}\n`);
        return 0;
      default:
        throw new UsageError(`unknown keys command ${JSON.stringify(sub ?? '')} (create, rotate, activate, revoke, list)`);
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`custody-proxy keys: ${message.split('\n')[0]}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}
