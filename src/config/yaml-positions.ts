// Where a `path: message` problem sits in its YAML text (SPEC §2 rev 2: `check` names the line and
// column of each problem). Problems stay plain `path: message` strings everywhere else (logs, admin
// reload answers); only `check` asks for positions, so they are found here, after the fact, by walking
// the problem's path through the document's nodes with the yaml library's LineCounter.
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Node, type YAMLError } from 'yaml';

export interface Position {
  readonly line: number;
  readonly col: number;
}

export interface YamlText {
  readonly doc: Document;
  readonly lines: LineCounter;
}

export function parseWithPositions(text: string): YamlText {
  const lines = new LineCounter();
  return { doc: parseDocument(text, { uniqueKeys: true, lineCounter: lines }), lines };
}

/** A YAML syntax error's message without the position and code excerpt the yaml library appends. */
export function yamlErrorMessage(e: YAMLError): string {
  return (e.message.split('\n')[0] ?? e.code).replace(/ at line \d+, column \d+:?$/, '');
}

/** The path of a problem (`tenants[0].ipAllowList[1]`), as formatPath wrote it, in parts. */
function pathParts(path: string): Array<string | number> {
  return [...path.matchAll(/\[(\d+)\]|([^.[\]]+)/g)].map((m) => (m[1] !== undefined ? Number(m[1]) : (m[2] ?? '')));
}

interface Found {
  readonly node: Node;
  /** the key node, when the last step was a map key */
  readonly key?: Node;
}

/** The deepest node on the path that exists (a missing key points at its parent). */
function walk(doc: Document, parts: ReadonlyArray<string | number>): Found | undefined {
  let at: Found | undefined = doc.contents ? { node: doc.contents } : undefined;
  for (const part of parts) {
    const node = at?.node;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(part));
      if (!pair || !isScalar(pair.key)) return at;
      at = pair.value && typeof pair.value === 'object' && 'range' in pair.value ? { node: pair.value as Node, key: pair.key } : { node: pair.key, key: pair.key };
    } else if (isSeq(node) && typeof part === 'number') {
      const item: unknown = node.items[part];
      if (!item || typeof item !== 'object' || !('range' in item)) return at;
      at = { node: item as Node };
    } else {
      return at;
    }
  }
  return at;
}

/**
 * Line and column of a `path: message` problem in `source`, or undefined when the path is not in it
 * (a default that was never written). An unknown key points at the key, anything else at the value.
 */
export function positionOf(source: YamlText, problem: string): Position | undefined {
  const sep = problem.indexOf(': ');
  const path = sep < 0 ? problem : problem.slice(0, sep);
  if (path.startsWith('(')) return undefined;
  const found = walk(source.doc, pathParts(path));
  if (!found) return undefined;
  const node = problem.slice(sep + 2) === 'unknown key' && found.key ? found.key : found.node;
  const offset = node.range?.[0];
  return offset === undefined ? undefined : source.lines.linePos(offset);
}
