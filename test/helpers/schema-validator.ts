// Validates a document against a generated JSON Schema (config/*.schema.json) with ajv, as an editor
// would, and names each problem by the path the proxy's own problems use (`tenants[0].allowList`), so
// a test can compare what the schema flags with what the proxy refuses.
import { Ajv, type ErrorObject } from 'ajv';

export type SchemaCheck = (doc: unknown) => string[];

/** The proxy's path form of an ajv error: a JSON pointer plus the key the error is about. */
function problemPath(e: ErrorObject): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = e.params as { additionalProperty?: string; missingProperty?: string };
  const key = params.additionalProperty ?? params.missingProperty;
  if (key !== undefined) parts.push(key);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(root)' : out;
}

/** A checker for one schema; strict ajv, so a keyword ajv does not know fails the compile. */
export function schemaCheck(schema: object): SchemaCheck {
  // strictRequired would refuse `not: { required: [file, url] }`, whose keys are defined beside it.
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
  // yaml-language-server's message for a failed pattern: not a validation keyword.
  ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
  const validate = ajv.compile(schema);
  return (doc) => {
    if (validate(doc)) return [];
    const errors = (validate.errors ?? []).map((e) => ({ e, at: problemPath(e) }));
    // `if` only announces its `then`; an anyOf (a nullable list) and the branch that does not fit
    // (`must be null`) are explained by the deeper error of the branch that nearly fits, as in an editor.
    const deeper = (at: string): boolean => errors.some((o) => o.at.startsWith(`${at}.`) || o.at.startsWith(`${at}[`));
    const branchNoise = ({ e, at }: { e: ErrorObject; at: string }): boolean =>
      (e.keyword === 'anyOf' || /\/anyOf\/\d+\/type$/.test(e.schemaPath)) && deeper(at);
    const kept = errors.filter((x) => x.e.keyword !== 'if' && !branchNoise(x));
    return [...new Set(kept.map(({ e, at }) => `${at}: ${e.message ?? e.keyword}`))];
  };
}

/** The paths of problems (`path: message` lines), deduplicated and sorted. */
export const pathsOf = (problems: readonly string[]): string[] =>
  [...new Set(problems.map((p) => p.slice(0, p.indexOf(': '))))].sort();
