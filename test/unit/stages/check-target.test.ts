// Unit tests of the check-target stage (SPEC §7): a canonical origin-form target passes and sets
// ctx.path (no query) and ctx.target; absolute-form naming the Host itself is rewritten to origin-form
// on req.url; non-canonical targets (dot segments, `//`, encoded `/` `\` NUL, servlet `;` segments,
// another host) are 400 BAD_REQUEST non_canonical_target, and any Transfer-Encoding other than plain
// chunked is 400 BAD_REQUEST transfer_encoding. A refusal leaves path, target and req.url untouched.
import t from 'tap';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { checkTarget } from '../../../src/stages/check-target.js';
import { fakeContext, refusal, type HeaderLine } from '../../helpers/fake-context.js';

const HOST: HeaderLine = ['Host', 'proxy.test:8080'];

function target(url: string, headers: readonly HeaderLine[] = [HOST]): { ctx: RequestContext; refused: ReturnType<typeof refusal> } {
  const ctx = fakeContext({ url, headers });
  return { ctx, refused: refusal(() => checkTarget(ctx)) };
}

const after = (ctx: RequestContext): object => ({ path: ctx.path, target: ctx.target, url: ctx.req.url });

t.test('canonical origin-form targets pass as sent', async (t) => {
  for (const [url, path] of [
    ['/v1/vaults', '/v1/vaults'],
    ['/v1/vaults?limit=5&x=%2F', '/v1/vaults'],
    ['/', '/'],
    ['/v1/vaults/', '/v1/vaults/'],
    ['/v1/a.b/c..d/.well-known', '/v1/a.b/c..d/.well-known'],
    ['/v1/%41%20b', '/v1/%41%20b'],
    ['/v1/a;v=1/b', '/v1/a;v=1/b'],
    ['/v1/vaults?', '/v1/vaults'],
  ] as const) {
    const { ctx, refused } = target(url);
    t.equal(refused, undefined, `${url} passes`);
    t.strictSame(after(ctx), { path, target: url, url }, `${url}: path, target, req.url`);
  }
});

t.test('absolute-form naming the Host is forwarded in origin-form', async (t) => {
  for (const [url, path, origin] of [
    ['http://proxy.test:8080/v1/vaults?x=1', '/v1/vaults', '/v1/vaults?x=1'],
    ['HTTPS://PROXY.TEST:8080/v1/a', '/v1/a', '/v1/a'],
    ['http://proxy.test:8080', '/', '/'],
    ['http://proxy.test:8080?q=1', '/', '/?q=1'],
  ] as const) {
    const { ctx, refused } = target(url);
    t.equal(refused, undefined, `${url} passes`);
    t.strictSame(after(ctx), { path, target: origin, url: origin }, `${url} → ${origin}`);
  }
});

t.test('non-canonical targets are refused before anything is written', async (t) => {
  const bad = { code: 'BAD_REQUEST', reason: 'non_canonical_target', status: 400 };
  for (const url of [
    '/v1/../admin',
    '/v1/./vaults',
    '/v1/vaults/..',
    '/v1//vaults',
    '//v1/vaults',
    '/v1/a%2fb',
    '/v1/a%2Fb',
    '/v1/a%5cb',
    '/v1/a%00',
    '/v1/a\\b',
    '/v1/%2e%2e/admin',
    '/v1/%2E/x',
    '/v1/..;/admin',
    '/v1/.;x/a',
    '/v1/%2e%2e%3b/admin',
    '/v1/;x/a',
    '/v1/a#frag',
    'v1/vaults',
    '*',
    'http://other.test/v1/vaults',
    'http://proxy.test/v1/vaults',
    'ftp://proxy.test:8080/v1/vaults',
    'http://proxy.test:8080/v1/../admin',
  ]) {
    const { ctx, refused } = target(url);
    t.strictSame(refused, bad, `${url} refused`);
    t.strictSame(after(ctx), { path: url, target: url, url }, `${url}: nothing written`);
  }
  t.strictSame(target('http://proxy.test:8080/v1', []).refused, bad, 'absolute-form without a Host');
});

t.test('Transfer-Encoding: only plain chunked', async (t) => {
  const te = (...values: string[]): HeaderLine[] => [HOST, ...values.map((v): HeaderLine => ['Transfer-Encoding', v])];
  for (const value of ['chunked', 'Chunked', 'CHUNKED']) {
    const { ctx, refused } = target('/v1/x?y', te(value));
    t.equal(refused, undefined, `${value} passes`);
    t.equal(ctx.path, '/v1/x', `${value}: path set`);
  }
  const bad = { code: 'BAD_REQUEST', reason: 'transfer_encoding', status: 400 };
  for (const values of [['gzip'], ['gzip, chunked'], ['chunked, chunked'], ['gzip', 'chunked'], ['identity'], ['']]) {
    const { ctx, refused } = target('/v1/x?y', te(...values));
    t.strictSame(refused, bad, `${values.join(' | ')} refused`);
    t.strictSame(after(ctx), { path: '/v1/x?y', target: '/v1/x?y', url: '/v1/x?y' }, `${values.join(' | ')}: nothing written`);
  }
  t.strictSame(target('/v1/../x', te('gzip')).refused?.reason, 'non_canonical_target', 'the target is checked first');
});
