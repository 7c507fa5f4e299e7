// `custody-proxy tenants add | set-allowlist | list` (SPEC §2 rev 2): tenant onboarding without
// hand-editing YAML. CIDRs are checked with the parser the document's schema uses (§4) before the
// file is touched; the edit itself goes through the same locked, validated, atomic rewrite as `keys`.
import { Scalar, YAMLSeq, isSeq, parse as parseYaml, type Document, type YAMLMap } from 'yaml';
import { parseCidr } from '../net/ip-match.js';
import { documentSchema } from '../credentials/document-schema.js';
import { parseCredentials } from '../credentials/document-load.js';
import { EXIT_OK, UsageError, parseCommand, reportError, required, unknownSubcommand } from '../command-line.js';
import { EditError, editCredentialsFile, findTenant, readDocumentText } from './document-edit.js';
import { alignedTable, printable } from './keys-list.js';
import { ADD, SET_ALLOWLIST, TENANTS_LIST, TENANTS_USAGE } from './tenants-commands.js';

function checkCidrs(cidrs: readonly string[], what: string): void {
  for (const c of cidrs) {
    if (parseCidr(c) === undefined) throw new UsageError(`${what} ${JSON.stringify(c)} is not an IP address or CIDR (e.g. 203.0.113.0/24, 2001:db8::/48)`);
  }
}

function tenantSeq(doc: Document): YAMLSeq {
  const seq = doc.get('tenants');
  if (!isSeq(seq)) throw new EditError('the document has no tenants list');
  return seq;
}

/** A flow list of double-quoted entries, as SPEC §4 writes an allowlist. */
function allowListNode(cidrs: readonly string[]): YAMLSeq {
  const seq = new YAMLSeq();
  seq.flow = true;
  for (const c of cidrs) seq.add(Object.assign(new Scalar(c), { type: Scalar.QUOTE_DOUBLE }));
  return seq;
}

function add(args: string[]): void {
  const parsed = parseCommand(args, ADD);
  if (!parsed) return;
  const { values } = parsed;
  const id = parsed.positionals[0] ?? '';
  const file = required(values.file, '--file CREDS', ADD);
  const name = required(values.name, '--name NAME', ADD);
  const allow = values.allow ?? [];
  checkCidrs(allow, '--allow');
  editCredentialsFile(file, (doc) => {
    if (findTenant(doc, id)) throw new EditError(`tenant ${JSON.stringify(id)} exists already`);
    const node: YAMLMap = doc.createNode({ id, name });
    if (allow.length > 0) node.set('ipAllowList', allowListNode(allow));
    const seq = tenantSeq(doc);
    // `tenants: []` written inline would otherwise become `[{ id: … }]`
    if (seq.items.length === 0) seq.flow = false;
    seq.add(node);
  });
}

function setAllowList(args: string[]): void {
  const parsed = parseCommand(args, SET_ALLOWLIST);
  if (!parsed) return;
  const [id = '', ...cidrs] = parsed.positionals;
  const file = required(parsed.values.file, '--file CREDS', SET_ALLOWLIST);
  checkCidrs(cidrs, 'CIDR');
  editCredentialsFile(file, (doc) => {
    const tenant = findTenant(doc, id);
    if (!tenant) throw new EditError(`unknown tenant ${JSON.stringify(id)}`);
    const current = tenant.get('ipAllowList', true);
    if (isSeq(current)) {
      // the list node stays, with its style and the comment beside it; only its entries change
      const style = current.items[0] instanceof Scalar ? current.items[0].type : Scalar.QUOTE_DOUBLE;
      current.items = cidrs.map((c) => Object.assign(new Scalar(c), { type: style }));
    } else {
      tenant.set('ipAllowList', allowListNode(cidrs));
    }
  });
}

interface TenantRow {
  readonly id: string;
  readonly name: string | null;
  readonly ipAllowList: string[];
  readonly reportOnly: boolean;
  readonly keys: number;
}

function tenantRows(file: string): TenantRow[] {
  const text = readDocumentText(file);
  const result = parseCredentials(text);
  if (!result.ok) throw new EditError(`${file} is not a valid credentials document: ${result.problems[0] ?? ''}`);
  // the snapshot holds compiled matchers; the list as written comes from the validated document
  const doc = documentSchema.parse(parseYaml(text));
  return doc.tenants.map((t) => ({
    id: t.id,
    name: t.name ?? null,
    ipAllowList: t.ipAllowList ?? [],
    reportOnly: t.reportOnly === true,
    keys: doc.credentials.filter((c) => c.tenant === t.id).length,
  }));
}

const NONE = '-';

function formatTable(rows: readonly TenantRow[]): string {
  const cells = [['ID', 'NAME', 'KEYS', 'ALLOWLIST'], ...rows.map((r) => [r.id, r.name ?? '', String(r.keys), r.ipAllowList.length > 0 ? r.ipAllowList.join(',') : NONE])];
  return alignedTable(cells.map((r) => r.map(printable)));
}

function list(args: string[]): string | undefined {
  const parsed = parseCommand(args, TENANTS_LIST);
  if (!parsed) return undefined;
  const rows = tenantRows(required(parsed.values.file, '--file CREDS', TENANTS_LIST));
  return parsed.values.json === true ? JSON.stringify(rows, null, 2) : formatTable(rows);
}

/** `custody-proxy tenants …`: 0 done (or help printed), 1 failed, 2 usage error; errors are one stderr line. */
export async function runTenants(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'add':
        add(rest);
        break;
      case 'set-allowlist':
        setAllowList(rest);
        break;
      case 'list': {
        const text = list(rest);
        if (text !== undefined) process.stdout.write(`${text}\n`);
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write(`${TENANTS_USAGE}\n`);
        break;
      default:
        throw unknownSubcommand('tenants', sub, ['add', 'set-allowlist', 'list']);
    }
    return EXIT_OK;
  } catch (err) {
    return reportError(`custody-proxy tenants${sub && !sub.startsWith('-') ? ` ${sub}` : ''}`, err);
  }
}
