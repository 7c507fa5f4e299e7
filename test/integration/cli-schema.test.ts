// `custody-proxy schema config|credentials` (SPEC §2 rev 2): the JSON Schema on stdout, alone, exit 0;
// the same text as config/*.schema.json; a schema ajv compiles. Usage errors are in cli-conventions.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli.js';
import { ROOT, inProcess, runBin } from '../helpers/cli-run.js';
import { schemaCheck } from '../helpers/schema-validator.js';

t.setTimeout(60_000);

const FILES = { config: 'custody-proxy.schema.json', credentials: 'credentials.schema.json' } as const;

t.test('schema config|credentials prints the committed schema, and nothing else', async (t) => {
  for (const kind of ['config', 'credentials'] as const) {
    const r = await inProcess(main, ['schema', kind]);
    t.equal(r.code, 0, `${kind}: exit 0`);
    t.equal(r.stderr, '', `${kind}: nothing on stderr`);
    t.equal(r.stdout, readFileSync(path.join(ROOT, 'config', FILES[kind]), 'utf8'), `${kind}: the text of config/${FILES[kind]}`);
    const check = schemaCheck(JSON.parse(r.stdout) as object);
    t.same(check({}), kind === 'config' ? [] : ['tenants: must have required property \'tenants\'', 'credentials: must have required property \'credentials\''],
      `${kind}: compiles and validates`);
  }
});

t.test('the real bin: the process\'s own stdout and exit code', async (t) => {
  const r = await runBin(['schema', 'credentials']);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  t.equal(r.stdout, readFileSync(path.join(ROOT, 'config', FILES.credentials), 'utf8'));
  const usage = await runBin(['schema']);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /^custody-proxy schema: missing DOCUMENT \(config or credentials\)[^\n]*\n$/);
  t.equal(usage.stdout, '');
});
