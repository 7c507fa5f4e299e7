// The README's error table (§10) and the code's error catalogues (the proxy's, which is SPEC §10's, and
// the admin listener's own) must list the same codes with the same statuses, so operators never read
// about a code the proxy cannot send, or miss one it can; the admin-only codes say so.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ADMIN_ERROR_CATALOGUE, ERROR_CATALOGUE } from '../../src/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Errors'), readme.indexOf('\n## ', readme.indexOf('## Errors') + 1));

t.test('README error table equals the catalogues', async (t) => {
  const rows = [...section.matchAll(/^\| (\d{3}) \| ([A-Z_]+) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
  const catalogue = Object.entries({ ...ERROR_CATALOGUE, ...ADMIN_ERROR_CATALOGUE }).map(([code, e]) => `${e.status} ${code}`);
  t.ok(rows.length > 0, 'the README has an error table');
  t.same([...rows].sort(), [...catalogue].sort());
});

t.test('the admin-only codes are marked admin only, and only they', async (t) => {
  for (const m of section.matchAll(/^\| (\d{3}) \| ([A-Z_]+) \|(.*)$/gm)) {
    const code = m[2] ?? '';
    t.equal(/admin only/i.test(m[3] ?? ''), code in ADMIN_ERROR_CATALOGUE, `${code}: ${code in ADMIN_ERROR_CATALOGUE ? '' : 'not '}marked admin only`);
  }
});

t.test('the catalogue matches SPEC §10', async (t) => {
  const specPath = new URL('../../../shared/SPEC.md', import.meta.url);
  let spec: string;
  try {
    spec = readFileSync(specPath, 'utf8');
  } catch {
    t.comment('shared/SPEC.md not beside the checkout');
    return;
  }
  const table = spec.slice(spec.indexOf('## §10'), spec.indexOf('## §11'));
  const fromSpec: string[] = [];
  for (const m of table.matchAll(/^\| (\d{3}) \| ([^|]+)\|/gm)) {
    for (const code of (m[2] ?? '').replace(/\([^)]*\)/g, '').split(',')) {
      const c = code.trim().split(' ')[0];
      if (c) fromSpec.push(`${m[1]} ${c}`);
    }
  }
  const catalogue = Object.entries(ERROR_CATALOGUE).map(([code, e]) => `${e.status} ${code}`);
  t.same([...catalogue].sort(), [...fromSpec].sort());
});
