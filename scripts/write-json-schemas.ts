// `npm run schemas`: writes config/custody-proxy.schema.json and config/credentials.schema.json, the
// text `custody-proxy schema config|credentials` prints. Run it after changing a document's zod schema;
// test/unit/config/json-schema-files.test.ts fails while the committed files differ.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCUMENT_KINDS, renderJsonSchema, schemaFileName } from '../src/config/json-schema.js';

const CONFIG_DIR = fileURLToPath(new URL('../config/', import.meta.url));

for (const kind of DOCUMENT_KINDS) {
  const file = path.join(CONFIG_DIR, schemaFileName(kind));
  writeFileSync(file, renderJsonSchema(kind));
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
