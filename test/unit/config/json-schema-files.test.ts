// config/*.schema.json are generated (`npm run schemas`): they must equal what `custody-proxy schema`
// prints today, and the example files' yaml-language-server modelines must point at them.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DOCUMENT_KINDS, renderJsonSchema, schemaFileName } from '../../../src/config/json-schema.js';
import { ROOT } from '../../helpers/cli-run.js';

const EXAMPLES = { config: 'custody-proxy.yaml', credentials: 'credentials.yaml' } as const;

t.test('the committed schemas equal the generated ones', async (t) => {
  for (const kind of DOCUMENT_KINDS) {
    const file = path.join(ROOT, 'config', schemaFileName(kind));
    const committed = existsSync(file) ? readFileSync(file, 'utf8') : '(missing)';
    t.ok(committed === renderJsonSchema(kind), `config/${schemaFileName(kind)} is out of date with the ${kind} schema: run npm run schemas and commit the result`);
  }
});

t.test('each example file opens with the modeline of its schema', async (t) => {
  for (const kind of DOCUMENT_KINDS) {
    const first = readFileSync(path.join(ROOT, 'config', EXAMPLES[kind]), 'utf8').split('\n')[0];
    t.equal(first, `# yaml-language-server: $schema=./${schemaFileName(kind)}`, `config/${EXAMPLES[kind]}`);
  }
});

t.test('the output is stable: pretty JSON, one final newline, the same text on every call', async (t) => {
  for (const kind of DOCUMENT_KINDS) {
    const text = renderJsonSchema(kind);
    t.equal(text, `${JSON.stringify(JSON.parse(text), null, 2)}\n`);
    t.equal(renderJsonSchema(kind), text);
    t.match(JSON.parse(text), { $schema: 'http://json-schema.org/draft-07/schema#', $id: /\.schema\.json$/, title: /custody-proxy/ });
  }
});
