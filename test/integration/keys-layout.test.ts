// SPEC §2: CREDS is rewritten "keeping its comments and layout". On a file with aligned inline
// comments, blank lines and a comment after `permissions:`, every key and tenant edit leaves the text
// outside the edited entry byte-identical, and a changed line keeps its comment's column.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inProcess, type CliRun } from '../helpers/cli-run.js';
import { hashOf } from '../helpers/credentials.js';
import { main } from '../../src/cli.js';

const cli = (...args: string[]): Promise<CliRun> => inProcess(main, args);

const DOC = `# Credentials for custody-proxy (SPEC §4).

tenants:
  # Secure Corp: production traffic only from its NAT ranges
  - id: tnt_secure_corp
    name: Secure Corp
    ipAllowList: ["203.0.113.0/24", "2001:db8:1::/48"]   # null or [] = all IPs allowed

  - id: tnt_sandbox
    name: "Sandbox (internal)"

credentials:
  # payments-prod: the main key
  - keyId: ck_live_abc123
    tenant: tnt_secure_corp
    status: active                     # provisioned | active | rotated | revoked
    secretHash: "${hashOf('a')}"
    expiresAt: 2099-06-01T00:00:00Z    # optional, any status

  # reporting: read only
  - keyId: ck_live_def456
    tenant: tnt_secure_corp
    status: active
    secretHash: "${hashOf('b')}"
    permissions:                       # optional; absent = every method and path
      - methods: [GET]
        paths: ["/v1/vaults", "/v1/reports/**"]   # * = one segment, ** = any rest

  - keyId: ck_test_sbx001
    tenant: tnt_sandbox
    status: revoked    # left by the pilot
    secretHash: '${hashOf('c')}'
`;

function file(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'custody-proxy-layout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'credentials.yaml');
  writeFileSync(f, DOC);
  return f;
}

async function run(t: Test, ...args: string[]): Promise<CliRun> {
  const r = await cli(...args);
  t.equal(r.code, 0, `${args.slice(0, 2).join(' ')}: ${r.stderr}`);
  return r;
}

/** The lines of the entry starting `  - keyId: ID` (up to the next entry, blank line or comment). */
function entry(text: string, keyId: string): string {
  const start = text.indexOf(`  - keyId: ${keyId}\n`);
  const rest = text.slice(start + 1);
  const end = rest.search(/\n(?: {2}[-#]|\n|$)/);
  return text.slice(start, start + 1 + end + 1);
}

t.test('revoke and activate change one line; its inline comment keeps its column', async (t) => {
  const f = file(t);
  await run(t, 'keys', 'revoke', 'ck_live_abc123', '--file', f);
  const expected = DOC.replace('    status: active                     # provisioned', '    status: revoked                    # provisioned');
  t.equal(readFileSync(f, 'utf8'), expected, 'byte-identical but for the status word');
  await run(t, 'keys', 'activate', 'ck_live_def456', '--file', f);
  t.equal(readFileSync(f, 'utf8'), expected, 'activating an active key rewrites the same bytes');
});

t.test('rotate: the rotated entry gains its status and graceUntil, the new one is appended, nothing else moves', async (t) => {
  const f = file(t);
  const r = await run(t, 'keys', 'rotate', 'ck_live_def456', '--file', f);
  const text = readFileSync(f, 'utf8');
  const old = entry(DOC, 'ck_live_def456');
  const now = entry(text, 'ck_live_def456');
  t.equal(text.slice(0, text.indexOf(now)), DOC.slice(0, DOC.indexOf(old)), 'everything before the entry identical');
  t.match(now, /^ {4}status: rotated$/m);
  t.match(now, /^ {4}graceUntil: \S+Z$/m);
  t.match(now, /^ {4}permissions: {23}# optional; absent = every method and path\n {6}- methods: \[GET\]\n {8}paths: \["\/v1\/vaults", "\/v1\/reports\/\*\*"\] {3}# \* = one segment/m, 'the comment after permissions: stays on its line, spacing kept');
  const tail = text.slice(text.indexOf(now) + now.length);
  const newId = r.stdout.split(':')[0] ?? '?';
  t.ok(tail.startsWith(DOC.slice(DOC.indexOf(old) + old.length)), 'everything after the entry identical, the new key after it');
  t.equal(tail.slice(DOC.length - DOC.indexOf(old) - old.length).split('\n')[0], `  - keyId: ${newId}`, 'then the new entry');
});

t.test('create and tenants add append; prune removes one entry; set-allowlist changes one line', async (t) => {
  const f = file(t);
  await run(t, 'keys', 'create', '--file', f, '--tenant', 'tnt_sandbox', '--permission', 'GET /v1/vaults');
  const created = readFileSync(f, 'utf8');
  t.ok(created.startsWith(DOC), 'create: the original text is an exact prefix');
  await run(t, 'keys', 'prune', '--file', f, '--older-than', '0d');
  const pruned = readFileSync(f, 'utf8');
  // the blank line before an entry (and a comment above it) belong to it, as YAML's parser attaches them
  t.equal(pruned, created.replace(`\n${entry(DOC, 'ck_test_sbx001')}`, ''), 'prune: exactly the revoked entry gone');
  await run(t, 'tenants', 'set-allowlist', 'tnt_secure_corp', '198.51.100.0/24', '--file', f);
  t.equal(
    readFileSync(f, 'utf8'),
    pruned.replace('["203.0.113.0/24", "2001:db8:1::/48"]', `["198.51.100.0/24"]${' '.repeat('"203.0.113.0/24", "2001:db8:1::/48"'.length - '"198.51.100.0/24"'.length)}`),
    'set-allowlist: the list changes, its comment keeps its column',
  );
  const before = readFileSync(f, 'utf8');
  await run(t, 'tenants', 'add', 'tnt_new', '--name', 'New', '--file', f);
  const added = readFileSync(f, 'utf8');
  const at = before.indexOf('\ncredentials:');
  t.equal(added.slice(0, at), before.slice(0, at), 'tenants add: the text before identical');
  t.equal(added.slice(added.indexOf('\ncredentials:')), before.slice(at), 'and the text after identical');
  t.match(added, /name: "Sandbox \(internal\)"\n {2}- id: tnt_new\n {4}name: New\n\ncredentials:/, 'the new tenant after the last one, the blank line kept');
});
