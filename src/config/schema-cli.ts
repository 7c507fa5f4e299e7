// `custody-proxy schema config|credentials` (SPEC §2 rev 2): prints a document's JSON Schema on stdout,
// for editors (yaml-language-server). The same text as config/*.schema.json (`npm run schemas`).
// Exit 0 printed, 2 usage error (no document, an unknown one).
import { EXIT_OK, UsageError, parseCommand, seeHelp } from '../command-line.js';
import { DOCUMENT_KINDS, renderJsonSchema, schemaFileName, type DocumentKind } from './json-schema.js';

const SCHEMA = {
  name: 'schema',
  usage: `usage: custody-proxy schema config|credentials

Prints the JSON Schema (draft-07) of the proxy config or of the credentials document, for editors:
save it and point a yaml-language-server modeline at it, e.g. first line of custody-proxy.yaml:
  # yaml-language-server: $schema=./${schemaFileName('config')}
It describes what the file may hold; custody-proxy check also checks what a schema cannot (unique
ids, existing tenants, what a \${VAR} holds).

options:
  -h, --help            this help`,
  options: {},
  positionals: { min: 1, max: 1, names: 'DOCUMENT (config or credentials)' },
} as const;

const isKind = (v: string): v is DocumentKind => (DOCUMENT_KINDS as readonly string[]).includes(v);

export function runSchema(args: string[]): number {
  const parsed = parseCommand(args, SCHEMA);
  if (!parsed) return EXIT_OK;
  const kind = parsed.positionals[0] ?? '';
  if (!isKind(kind)) {
    throw new UsageError(`unknown document ${JSON.stringify(kind)} (${DOCUMENT_KINDS.join(' or ')}; ${seeHelp(SCHEMA.name)})`);
  }
  process.stdout.write(renderJsonSchema(kind));
  return EXIT_OK;
}
