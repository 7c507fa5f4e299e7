// The JSON Schemas of the two documents an operator writes (SPEC §2 rev 2: `custody-proxy schema`),
// generated from the zod schemas that parse them, so an editor and the proxy cannot drift apart.
// Draft-07: the newest draft yaml-language-server (the VS Code YAML extension) validates; its 2019-09
// and 2020-12 support was reverted. The INPUT side (`io: 'input'`): a duration is the string "30s".
// What a schema cannot say (unique ids, an existing tenant, a port above 65535, IPv6 syntax, what a
// ${VAR} holds) the proxy still checks: `custody-proxy check` has the last word.
import { z } from 'zod';
import { configSchema } from './schema.js';
import { VAR } from './problems.js';
import { documentSchema } from '../credentials/document-schema.js';

export const DOCUMENT_KINDS = ['config', 'credentials'] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

type Json = z.core.JSONSchema.BaseSchema;

const DOCUMENTS = {
  config: {
    file: 'custody-proxy.schema.json',
    title: 'custody-proxy config',
    description: 'The proxy config (SPEC §3). Unknown keys are errors; ${VAR} in a string value is replaced by the '
      + 'environment variable (a number or boolean cannot come from one). custody-proxy check has the last word.',
    schema: configSchema,
  },
  credentials: {
    file: 'credentials.schema.json',
    title: 'custody-proxy credentials document',
    description: 'Tenants and their API keys (SPEC §4). Unknown keys are errors; tenant ids and key ids are unique '
      + 'and every credential names a tenant of the document (checked by custody-proxy check, not by this schema).',
    schema: documentSchema,
  },
} as const;

/** The file name in config/ that holds a document's schema. */
export const schemaFileName = (kind: DocumentKind): string => DOCUMENTS[kind].file;

// A credentials timestamp is a string or a Date; YAML 1.2 (the yaml package, yaml-language-server)
// reads an unquoted timestamp as a string, so the editor sees only the string (typed by its metadata).
function dropDateAlternative(ctx: { zodSchema: z.core.$ZodTypes; jsonSchema: Json }): void {
  const def = ctx.zodSchema._zod.def;
  if (def.type === 'union' && def.options.some((o) => o._zod.def.type === 'date')) delete ctx.jsonSchema.anyOf;
}

const ENV_REFERENCE = VAR.source;

/**
 * Config only: substitution (config/problems.ts) runs on every string value after YAML parsing, so
 * any string holding a ${VAR} is valid where a checked string is expected (e.g. `url: "${REDIS_URL}"`,
 * `listen: "${HOST}:8080"`). Numbers and booleans stay strict: `maxEntries: ${N}` is the string
 * "${N}" after substitution too, which the proxy refuses.
 */
function allowEnvReferences(node: Json): Json {
  const out: Json = { ...node };
  if (out.type === 'string' && typeof out.pattern === 'string') {
    out.pattern = `(?:${out.pattern})|${ENV_REFERENCE}`;
    if (typeof out['patternErrorMessage'] === 'string') out['patternErrorMessage'] = `${out['patternErrorMessage']}, or a \${VAR} reference`;
  } else if (out.type === 'string' && Array.isArray(out.enum)) {
    const { type, enum: values, ...annotations } = out;
    return { ...annotations, anyOf: [{ type, enum: values }, { type: 'string', pattern: ENV_REFERENCE }] };
  }
  if (out.properties) out.properties = Object.fromEntries(Object.entries(out.properties).map(([k, v]) => [k, visit(v)]));
  if (out.items && !Array.isArray(out.items)) out.items = visit(out.items);
  if (out.anyOf) out.anyOf = out.anyOf.map(allowEnvReferences);
  return out;
}

const visit = (s: z.core.JSONSchema._JSONSchema): z.core.JSONSchema._JSONSchema => (typeof s === 'boolean' ? s : allowEnvReferences(s));

// Keywords in reading order: what it is, what it takes, then its parts; unlisted keys keep their place after.
const KEY_ORDER = [
  '$schema', '$id', 'title', 'description', 'type', 'enum', 'const', 'pattern', 'patternErrorMessage',
  'minLength', 'minimum', 'exclusiveMinimum', 'maximum', 'minItems', 'items', 'properties', 'required',
  'additionalProperties', 'dependencies', 'not', 'if', 'then', 'anyOf', 'default',
];

function ordered(value: unknown, isPropertyMap = false): unknown {
  if (Array.isArray(value)) return value.map((v) => ordered(v));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const rank = (k: string): number => (isPropertyMap ? 0 : KEY_ORDER.indexOf(k) === -1 ? KEY_ORDER.length : KEY_ORDER.indexOf(k));
  // Array.prototype.sort is stable: equal ranks (a property map, unlisted keys) keep their order.
  const sorted = [...entries].sort(([a], [b]) => rank(a) - rank(b));
  return Object.fromEntries(sorted.map(([k, v]) => [k, k === 'default' || k === 'enum' || k === 'const' ? v : ordered(v, k === 'properties')]));
}

/** A document's JSON Schema as an object. */
export function jsonSchemaOf(kind: DocumentKind): Json {
  const doc = DOCUMENTS[kind];
  const generated = z.toJSONSchema(doc.schema, {
    target: 'draft-07',
    io: 'input',
    unrepresentable: 'any',
    override: dropDateAlternative,
  });
  const schema = kind === 'config' ? allowEnvReferences(generated) : generated;
  const head = { $id: `https://custody-proxy.invalid/schemas/${doc.file}`, title: doc.title, description: doc.description };
  return ordered({ ...schema, ...head }) as Json;
}

/** What `custody-proxy schema KIND` prints and config/ holds: pretty JSON with a final newline. */
export function renderJsonSchema(kind: DocumentKind): string {
  return `${JSON.stringify(jsonSchemaOf(kind), null, 2)}\n`;
}
