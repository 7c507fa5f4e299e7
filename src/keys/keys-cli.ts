// `custody-proxy keys …` (SPEC §2): create, rotate, activate, revoke, list, prune. A new token is printed
// once on stdout and nothing else is; it is never written anywhere. Any error is one line on stderr
// and a non-zero exit, with the file untouched.
import { Scalar, isMap, isNode, isScalar, isSeq, visit, type Document, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import { parseDuration } from '../config/units.js';
import { EditError, credentialNodes, editCredentialsFile, findTenant } from './document-edit.js';
import { formatTable, keyRows } from './keys-list.js';
import { isoSeconds, parseExpires, parsePermission, type PermissionRule } from './key-options.js';
import { envOf, generateKeyPair, type KeyEnv } from './key-gen.js';
import { formatSecretHash } from '../credentials/secret-hash.js';
import { EXIT_OK, UsageError, parseCommand, reportError, required, unknownSubcommand } from '../command-line.js';
import { ACTIVATE, CREATE, KEYS_USAGE, LIST, PRUNE, REVOKE, ROTATE } from './keys-commands.js';
import { pruneCredentials } from './keys-prune.js';

function findCredential(doc: Document, keyId: string): YAMLMap {
  const node = credentialNodes(doc).find((n) => n.get('keyId') === keyId);
  if (!node) throw new EditError(`no credential with key id ${JSON.stringify(keyId)}`);
  return node;
}

interface NewKey {
  readonly tenant: string;
  readonly env: KeyEnv;
  readonly status: string;
  readonly label?: string | undefined;
  readonly expiresAt?: number | undefined;
  readonly permissions?: readonly PermissionRule[] | undefined;
}

// What narrows a key carries over to its replacement on rotate: a rotation must never widen access.
const INHERITED = ['ipAllowList', 'rateLimit', 'permissions'] as const;

/** Appends a fresh key's record (fields in SPEC §4's order) and returns its token. */
function addCredential(doc: Document, key: NewKey, narrowedLike?: YAMLMap): string {
  const existing = new Set(credentialNodes(doc).map((n) => String(n.get('keyId'))));
  let pair = generateKeyPair(key.env);
  while (existing.has(pair.keyId)) pair = generateKeyPair(key.env);
  const record: Record<string, string> = { keyId: pair.keyId, tenant: key.tenant, status: key.status, secretHash: formatSecretHash(pair.secret) };
  if (key.expiresAt !== undefined) record['expiresAt'] = isoSeconds(key.expiresAt);
  if (key.label !== undefined) record['label'] = key.label;
  record['createdAt'] = isoSeconds(Date.now());
  const node: YAMLMap = doc.createNode(record);
  for (const field of INHERITED) {
    const value: unknown = narrowedLike?.get(field, true);
    if (isNode(value)) node.set(field, withoutComments(value.clone() as Node));
  }
  if (key.permissions) node.set('permissions', permissionsNode(doc, key.permissions));
  const seq = doc.get('credentials');
  if (isSeq(seq)) seq.add(node);
  else doc.set('credentials', doc.createNode([node]));
  return pair.token;
}

/** A copied node without the comments written beside the original (they are about that key). */
function withoutComments(copy: Node): Node {
  visit(copy, (_key, n) => {
    if (isNode(n)) {
      n.comment = null;
      n.commentBefore = null;
      n.spaceBefore = false;
    }
  });
  return copy;
}

/** `- methods: [GET, HEAD]` / `paths: ["/v1/vaults/**"]`: flow lists, paths quoted, as SPEC §4 writes them. */
function permissionsNode(doc: Document, rules: readonly PermissionRule[]): YAMLSeq {
  const seq: YAMLSeq = doc.createNode(rules.map((r) => ({ methods: r.methods, paths: r.paths })));
  for (const item of seq.items) {
    if (!isMap(item)) continue;
    for (const pair of item.items) {
      if (!isSeq(pair.value)) continue;
      pair.value.flow = true;
      if (isScalar(pair.key) && pair.key.value === 'paths') for (const p of pair.value.items) if (isScalar(p)) p.type = Scalar.QUOTE_DOUBLE;
    }
  }
  return seq;
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
  const expiresAt = values.expires === undefined ? undefined : parseExpires(values.expires, Date.now());
  const permissions = values.permission?.map(parsePermission);
  return editCredentialsFile(file, (doc) => {
    if (!findTenant(doc, tenant)) throw new EditError(`unknown tenant ${JSON.stringify(tenant)}`);
    return addCredential(doc, { tenant, env, status, label: values.label, expiresAt, permissions });
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
    const key = { tenant: String(old.get('tenant')), env: envOf(keyId), status: 'active', label: label === undefined ? undefined : String(label) };
    const token = addCredential(doc, key, old);
    old.set('status', 'rotated');
    old.set('graceUntil', isoSeconds(Date.now() + graceMs));
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
  const { values } = parsed;
  const rows = keyRows(required(values.file, '--file CREDS', LIST), values.tenant, Date.now());
  return values.json === true ? JSON.stringify(rows, null, 2) : formatTable(rows);
}

/** The removed key ids, one a line (nothing when none: the file is then not rewritten). */
function prune(args: string[]): string | undefined {
  const parsed = parseCommand(args, PRUNE);
  if (!parsed) return undefined;
  const { values } = parsed;
  const file = required(values.file, '--file CREDS', PRUNE);
  const olderThan = parseDuration(values['older-than'] ?? '30d');
  if (olderThan === undefined) throw new UsageError(`--older-than must be a duration like 30d or 12h, not ${JSON.stringify(values['older-than'])}`);
  const removed = editCredentialsFile(file, (doc) => pruneCredentials(doc, olderThan, Date.now()), (ids) => ids.length > 0);
  return removed.length > 0 ? removed.join('\n') : undefined;
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
      case 'prune':
        print(prune(rest));
        break;
      case '--help':
      case '-h':
        print(KEYS_USAGE);
        break;
      default:
        throw unknownSubcommand('keys', sub, ['create', 'rotate', 'activate', 'revoke', 'list', 'prune']);
    }
    return EXIT_OK;
  } catch (err) {
    return reportError(`custody-proxy keys${sub && !sub.startsWith('-') ? ` ${sub}` : ''}`, err);
  }
}
