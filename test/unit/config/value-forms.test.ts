// The patterns editors check config values with (value-forms.ts) against the parsers the proxy uses:
// exact where the pattern claims to be (durations, sizes, IPv4 CIDRs, path patterns), never stricter
// than the proxy elsewhere (IPv6, timestamps), over generated inputs.
import t from 'tap';
import fc from 'fast-check';
import { VALUE_PATTERNS } from '../../../src/config/value-forms.js';
import { parseDuration, parseSize } from '../../../src/config/units.js';
import { parseCidr } from '../../../src/net/ip-match.js';
import { jsonSchemaOf } from '../../../src/config/json-schema.js';
import { pathPatternProblem } from '../../../src/credentials/permissions.js';
import { parseIsoTime } from '../../../src/credentials/document-schema.js';

const RUNS = { numRuns: 2000 };
const text = (alphabet: string, max: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...alphabet.split('')), { maxLength: max }).map((cs) => cs.join(''));
// Up to 6 digits: past Number.MAX_SAFE_INTEGER ms or bytes the parsers refuse what the pattern, which
// cannot count, takes (json-schema.test.ts lists it among what only the proxy checks).
const numberWithUnit = (units: readonly string[]): fc.Arbitrary<string> =>
  fc.tuple(text('0123456789', 6), fc.constantFrom(...units, ''), text('0 s-', 1)).map(([n, u, x]) => `${n}${u}${x}`);

t.test('durations: the pattern takes exactly what parseDuration takes (and > 0 for the positive one)', async () => {
  fc.assert(fc.property(numberWithUnit(['ms', 's', 'm', 'h', 'd', 'w', 'S']), (s) => {
    const ms = parseDuration(s);
    return VALUE_PATTERNS.DURATION.test(s) === (ms !== undefined) && VALUE_PATTERNS.POSITIVE_DURATION.test(s) === (ms !== undefined && ms > 0);
  }), RUNS);
});

t.test('sizes: the pattern takes exactly the sizes greater than 0', async () => {
  fc.assert(fc.property(numberWithUnit(['B', 'KiB', 'MiB', 'GiB', 'KB', 'kib']), (s) => {
    const bytes = parseSize(s);
    return VALUE_PATTERNS.POSITIVE_SIZE.test(s) === (bytes !== undefined && bytes > 0);
  }), RUNS);
});

t.test('CIDRs: exact for IPv4, never stricter than the proxy for IPv6', async () => {
  const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), text('0123456789', 4));
  const v4 = fc.tuple(fc.array(octet, { minLength: 3, maxLength: 5 }), fc.option(fc.integer({ min: 0, max: 40 }))).map(([o, p]) => `${o.join('.')}${p === null ? '' : `/${p}`}`);
  fc.assert(fc.property(v4, (s) => VALUE_PATTERNS.CIDR.test(s) === (parseCidr(s) !== undefined)), RUNS);
  const v6 = fc.tuple(fc.ipV6(), fc.option(fc.integer({ min: 0, max: 130 }))).map(([a, p]) => `${a}${p === null ? '' : `/${p}`}`);
  fc.assert(fc.property(v6, (s) => parseCidr(s) === undefined || VALUE_PATTERNS.CIDR.test(s)), RUNS);
});

t.test('permission paths: the pattern takes exactly what pathPatternProblem lets through', async () => {
  const schema = JSON.stringify(jsonSchemaOf('credentials'));
  const source = /"pattern":"(\^\/\(\?:[^"]*)"/.exec(schema)?.[1];
  t.ok(source, 'the path pattern is in the schema');
  const re = new RegExp(JSON.parse(`"${source ?? ''}"`) as string, 'u');
  fc.assert(fc.property(text('/ab*', 10), (s) => re.test(s) === (pathPatternProblem(s) === undefined)), RUNS);
});

t.test('timestamps: every time the proxy reads passes the pattern', async () => {
  const schema = jsonSchemaOf('credentials') as { properties: { credentials: { items: { properties: { expiresAt: { pattern: string } } } } } };
  const re = new RegExp(schema.properties.credentials.items.properties.expiresAt.pattern, 'u');
  const date = fc.date({ min: new Date('1970-01-01'), max: new Date('2999-12-31'), noInvalidDate: true });
  fc.assert(fc.property(date, fc.constantFrom(10, 16, 19, 23, 24), (d, len) => {
    const iso = d.toISOString();
    const s = len === 24 ? iso : len === 10 ? iso.slice(0, 10) : `${iso.slice(0, len)}+02:00`;
    return !Number.isFinite(parseIsoTime(s)) || re.test(s);
  }), RUNS);
});
