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

interface Node { properties?: Record<string, Node>; items?: Node; anyOf?: Node[]; description?: string }

function undescribed(node: Node, at: string, out: string[]): string[] {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const where = at === '' ? key : `${at}.${key}`;
    if (child.description === undefined) out.push(where);
    undescribed(child, where, out);
  }
  if (node.items) undescribed(node.items, `${at}[]`, out);
  for (const branch of node.anyOf ?? []) undescribed(branch, at, out);
  return out;
}

t.test('every setting has a description (the editor\'s hover text): .describe() it in the zod schema', async (t) => {
  for (const kind of DOCUMENT_KINDS) t.same(undescribed(JSON.parse(renderJsonSchema(kind)) as Node, '', []), [], kind);
});
