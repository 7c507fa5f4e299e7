// config/yaml-positions.ts: the line:column `check` prints for a `path: message` problem. A value's
// problem points at the value, an unknown key at the key, a missing key at its parent; a path not in
// the text (a default) or a pseudo-path such as `(file)` has no position.
import t from 'tap';
import { parseWithPositions, positionOf } from '../../../src/config/yaml-positions.js';

const TEXT = `# comment
listen: nowhere
upstream:
  url: http://x
  tiemout: 30s
trustedProxies: ["10.0.0.0/8", "1.2.3"]
tenants:
  - id: a
  - name: no id
`;
const source = parseWithPositions(TEXT);

t.test('positions by path', async (t) => {
  const cases: ReadonlyArray<readonly [string, { line: number; col: number } | undefined]> = [
    ['listen: invalid listen address "nowhere"', { line: 2, col: 9 }],
    ['upstream.tiemout: unknown key', { line: 5, col: 3 }],
    ['upstream.url: invalid URL', { line: 4, col: 8 }],
    ['trustedProxies[1]: invalid IP address or CIDR "1.2.3"', { line: 6, col: 32 }],
    ['tenants[1].id: required', { line: 9, col: 5 }],
    ['tenants[7].id: required', { line: 8, col: 3 }],
    ['admin.tokenFile: token file is empty', { line: 2, col: 1 }],
    ['(file): cannot read "x": ENOENT', undefined],
    ['(root): the document is empty', undefined],
  ];
  for (const [problem, expected] of cases) t.same(positionOf(source, problem), expected, problem);
});

t.test('an empty document has no positions', async (t) => {
  t.equal(positionOf(parseWithPositions(''), 'listen: x'), undefined);
});
