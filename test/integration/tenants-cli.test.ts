// SPEC §2 rev 2 `custody-proxy tenants add | set-allowlist | list` through main() (what the bin runs)
// on real files: CIDRs validated as the document validates them (§4), a new tenant usable by
// `keys create` at once, comments and other entries kept, one-line errors with the file untouched.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { inProcess, type CliRun } from '../helpers/cli-run.js';
import { hashOf } from '../helpers/credentials.js';
import { main } from '../../src/cli.js';
import { parseCredentials } from '../../src/credentials/document-load.js';

const cli = (...args: string[]): Promise<CliRun> => inProcess(main, args);

const DOC = `# tenants onboarded by hand
tenants:
  - id: tnt_one
    name: One
    ipAllowList: ["203.0.113.0/24"]   # its NAT range
credentials:
  - keyId: ck_live_one
    tenant: tnt_one
    status: active
    secretHash: "${hashOf('s')}"
`;

function file(t: Test, text = DOC): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-tenants-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'credentials.yaml');
  writeFileSync(f, text);
  return f;
}

interface Tenant {
  id: string;
  name?: string;
  ipAllowList?: string[] | null;
}
const tenants = (f: string): Tenant[] => (parse(readFileSync(f, 'utf8')) as { tenants: Tenant[] }).tenants;

t.test('add: appended with its name and allowlist (IPv4, IPv6, single address); the rest of the file as it was', async (t) => {
  const f = file(t);
  const r = await cli('tenants', 'add', 'tnt_two', '--name', 'Two Corp', '--allow', '198.51.100.0/24', '--allow', '2001:db8:1::/48', '--allow', '192.0.2.7', '--file', f);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '', 'prints nothing');
  t.same(tenants(f)[1], { id: 'tnt_two', name: 'Two Corp', ipAllowList: ['198.51.100.0/24', '2001:db8:1::/48', '192.0.2.7'] });
  const text = readFileSync(f, 'utf8');
  t.ok(text.startsWith(DOC.slice(0, DOC.indexOf('credentials:'))), 'the existing tenants unchanged, comment included');
  t.match(text, /^ {4}ipAllowList: \["198\.51\.100\.0\/24", "2001:db8:1::\/48", "192\.0\.2\.7"\]$/m, 'a flow list, as SPEC §4 writes it');
  const noAllow = await cli('tenants', 'add', 'tnt_open', '--name', 'Open', '--file', f);
  t.equal(noAllow.code, 0, noAllow.stderr);
  t.same(tenants(f)[2], { id: 'tnt_open', name: 'Open' }, 'no --allow: no list, every IP allowed');
  const key = await cli('keys', 'create', '--file', f, '--tenant', 'tnt_two');
  t.equal(key.code, 0, `keys create accepts the new tenant: ${key.stderr}`);
  t.ok(parseCredentials(readFileSync(f, 'utf8')).ok);
});

t.test('add into an empty inline list writes a block list', async (t) => {
  const f = file(t, 'tenants: []\ncredentials: []\n');
  t.equal((await cli('tenants', 'add', 'tnt_a', '--name', 'A', '--file', f)).code, 0);
  t.equal(readFileSync(f, 'utf8'), 'tenants:\n  - id: tnt_a\n    name: A\ncredentials: []\n');
});

t.test('set-allowlist: replaces the entries in place (style and comment kept); no CIDR empties the list', async (t) => {
  const f = file(t);
  const r = await cli('tenants', 'set-allowlist', 'tnt_one', '198.51.100.42/32', '2001:db8::/32', '--file', f);
  t.equal(r.code, 0, r.stderr);
  const text = readFileSync(f, 'utf8');
  t.equal(text, DOC.replace('["203.0.113.0/24"]', '["198.51.100.42/32", "2001:db8::/32"]'), 'only the list changed');
  const clear = await cli('tenants', 'set-allowlist', 'tnt_one', '--file', f);
  t.equal(clear.code, 0, clear.stderr);
  const column = text.indexOf('# its NAT range') - text.lastIndexOf('\n', text.indexOf('# its NAT range')) - 1;
  t.equal(
    readFileSync(f, 'utf8'),
    DOC.replace('["203.0.113.0/24"]   #', `[]${' '.repeat(column - '    ipAllowList: []'.length)}#`),
    'cleared: [] (every IP allowed); the comment stays in its column',
  );
  t.equal((await cli('tenants', 'add', 'tnt_b', '--name', 'B', '--file', f)).code, 0);
  t.equal((await cli('tenants', 'set-allowlist', 'tnt_b', '10.0.0.0/8', '--file', f)).code, 0);
  t.same(tenants(f)[1]?.ipAllowList, ['10.0.0.0/8'], 'a tenant without a list gets one');
});

t.test('list: table and JSON with allowlists and key counts', async (t) => {
  const f = file(t);
  await cli('tenants', 'add', 'tnt_two', '--name', 'Two\u001b[2J', '--file', f);
  const json = await cli('tenants', 'list', '--file', f, '--json');
  t.equal(json.code, 0, json.stderr);
  t.same(JSON.parse(json.stdout), [
    { id: 'tnt_one', name: 'One', ipAllowList: ['203.0.113.0/24'], reportOnly: false, keys: 1 },
    { id: 'tnt_two', name: 'Two\u001b[2J', ipAllowList: [], reportOnly: false, keys: 0 },
  ]);
  const table = await cli('tenants', 'list', '--file', f);
  const rows = table.stdout.trimEnd().split('\n');
  t.match(rows[0], /^ID\s+NAME\s+KEYS\s+ALLOWLIST$/);
  t.match(rows[1], /^tnt_one\s+One\s+1\s+203\.0\.113\.0\/24$/);
  t.match(rows[2], /^tnt_two\s+Two\\x1b\[2J\s+0\s+-$/, 'no list: -; control characters escaped');
  t.notMatch(table.stdout + json.stdout, /sha256/, 'never a hash');
});

t.test('errors: one line, exit 2 for usage errors and 1 otherwise, nothing on stdout, the file untouched', async (t) => {
  const f = file(t);
  const before = `${statSync(f).ino}:${readFileSync(f, 'utf8')}`;
  const cases: Array<[string[], number, RegExp]> = [
    [['add', 'tnt_x', '--name', 'X', '--allow', '300.1.1.1', '--file', f], 2, /--allow "300\.1\.1\.1" is not an IP address or CIDR/],
    [['add', 'tnt_x', '--name', 'X', '--allow', '010.0.0.1', '--file', f], 2, /"010\.0\.0\.1"/],
    [['add', 'tnt_x', '--name', 'X', '--allow', '10.0.0.0/33', '--file', f], 2, /"10\.0\.0\.0\/33"/],
    [['add', 'tnt_x', '--file', f], 2, /missing --name NAME/],
    [['add', '--name', 'X', '--file', f], 2, /missing ID/],
    [['add', 'tnt_x', '--name', 'X'], 2, /missing --file CREDS/],
    [['add', 'tnt_one', '--name', 'Again', '--file', f], 1, /tenant "tnt_one" exists already/],
    [['add', 'bad id', '--name', 'X', '--file', f], 1, /tenants\[1\]\.id: must be 1-128 visible ASCII/],
    [['set-allowlist', 'tnt_one', '10.0.0.1', 'nonsense', '--file', f], 2, /CIDR "nonsense" is not an IP address or CIDR/],
    [['set-allowlist', 'tnt_nope', '10.0.0.1', '--file', f], 1, /unknown tenant "tnt_nope"/],
    [['set-allowlist', '--file', f], 2, /missing ID/],
    [['list', '--file', path.join(path.dirname(f), 'absent.yaml')], 1, /absent\.yaml/],
    [['frobnicate'], 2, /unknown command "frobnicate" \(add, set-allowlist, list/],
    [[], 2, /missing command/],
  ];
  for (const [args, code, message] of cases) {
    const r = await cli('tenants', ...args);
    t.equal(r.code, code, `${args.join(' ')}: exit ${code}`);
    t.equal(r.stdout, '');
    t.match(r.stderr, /^custody-proxy tenants[^\n]*\n$/, 'one line');
    t.match(r.stderr, message, r.stderr.trim());
  }
  t.equal(`${statSync(f).ino}:${readFileSync(f, 'utf8')}`, before, 'the file untouched');
  t.same(readdirSync(path.dirname(f)), ['credentials.yaml'], 'nothing left behind');
});
