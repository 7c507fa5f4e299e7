// Permission rules (SPEC §4, §6): `*` is exactly one non-empty segment, `**` (last) one or more further
// segments, methods are a set or `*`, literal segments match exactly, and `/v1/vaults` is not matched
// by `/v1/vaults/*`. Also the pattern checker used by the credentials document.
import t from 'tap';
import { compileRule, pathPatternProblem, permits } from '../../../src/credentials/permissions.js';

const rules = (...r: Array<{ methods: string[]; paths: string[] }>) => r.map(compileRule);

t.test('`*` is exactly one non-empty segment', async (t) => {
  const r = rules({ methods: ['GET'], paths: ['/v1/vaults/*'] });
  t.equal(permits(r, 'GET', '/v1/vaults/v_1'), true);
  t.equal(permits(r, 'GET', '/v1/vaults'), false, '/v1/vaults is not /v1/vaults/*');
  t.equal(permits(r, 'GET', '/v1/vaults/'), false, 'empty segment');
  t.equal(permits(r, 'GET', '/v1/vaults/v_1/keys'), false, 'two segments');
  const mid = rules({ methods: ['GET'], paths: ['/v1/*/items'] });
  t.equal(permits(mid, 'GET', '/v1/abc/items'), true);
  t.equal(permits(mid, 'GET', '/v1//items'), false);
  t.equal(permits(mid, 'GET', '/v1/a/b/items'), false);
});

t.test('`**` is one or more trailing segments', async (t) => {
  const r = rules({ methods: ['GET'], paths: ['/v1/reports/**'] });
  t.equal(permits(r, 'GET', '/v1/reports/a'), true);
  t.equal(permits(r, 'GET', '/v1/reports/a/b/c'), true);
  t.equal(permits(r, 'GET', '/v1/reports'), false, 'zero further segments');
  t.equal(permits(r, 'GET', '/v1/report/a'), false);
  t.equal(permits(r, 'GET', '/v1/reportsx/a'), false);
  t.equal(permits(r, 'GET', '/v2/reports/a'), false);
});

t.test('literal paths match exactly', async (t) => {
  const r = rules({ methods: ['GET'], paths: ['/v1/vaults'] });
  t.equal(permits(r, 'GET', '/v1/vaults'), true);
  t.equal(permits(r, 'GET', '/v1/vaults/x'), false);
  t.equal(permits(r, 'GET', '/v1/vault'), false);
  t.equal(permits(r, 'GET', '/v1/vaultsx'), false);
  t.equal(permits(r, 'GET', '/V1/vaults'), false, 'case-sensitive');
  t.equal(permits(r, 'GET', '/v1'), false);
  t.equal(permits(r, 'GET', '/v1/vaults/'), false, 'trailing slash is another path');
  t.equal(permits(rules({ methods: ['GET'], paths: ['/'] }), 'GET', '/'), true);
  t.equal(permits(rules({ methods: ['GET'], paths: ['/'] }), 'GET', '/x'), false);
});

t.test('the spec example: list both /v1/vaults and /v1/vaults/*', async (t) => {
  const r = rules({ methods: ['GET'], paths: ['/v1/vaults', '/v1/vaults/*', '/v1/reports/**'] });
  t.equal(permits(r, 'GET', '/v1/vaults'), true);
  t.equal(permits(r, 'GET', '/v1/vaults/v1'), true);
  t.equal(permits(r, 'GET', '/v1/reports/2026/q1'), true);
  t.equal(permits(r, 'POST', '/v1/vaults'), false, 'method not in the rule');
  t.equal(permits(r, 'GET', '/v1/transfers'), false);
});

t.test('methods: a set, or * for every method', async (t) => {
  const set = rules({ methods: ['GET', 'HEAD'], paths: ['/v1/**'] });
  t.equal(permits(set, 'GET', '/v1/a'), true);
  t.equal(permits(set, 'HEAD', '/v1/a'), true);
  t.equal(permits(set, 'POST', '/v1/a'), false);
  t.equal(permits(set, 'get', '/v1/a'), false, 'methods are case-sensitive');
  const any = rules({ methods: ['*'], paths: ['/v1/**'] });
  for (const m of ['GET', 'POST', 'DELETE', 'PATCH', 'PURGE']) t.equal(permits(any, m, '/v1/a'), true, m);
  t.equal(permits(any, 'GET', '/v2/a'), false, '* is methods only, the path still applies');
});

t.test('several rules: any one that matches both method and path', async (t) => {
  const r = rules({ methods: ['GET'], paths: ['/v1/vaults/*'] }, { methods: ['POST'], paths: ['/v1/transfers'] });
  t.equal(permits(r, 'GET', '/v1/vaults/a'), true);
  t.equal(permits(r, 'POST', '/v1/transfers'), true);
  t.equal(permits(r, 'POST', '/v1/vaults/a'), false, 'method of one rule, path of another');
  t.equal(permits(r, 'GET', '/v1/transfers'), false);
  t.equal(permits([], 'GET', '/'), false, 'no rules: nothing allowed');
});

t.test('pathPatternProblem', async (t) => {
  for (const ok of ['/', '/v1', '/v1/vaults/*', '/v1/*/x', '/v1/reports/**', '/**', '/*']) t.equal(pathPatternProblem(ok), undefined, ok);
  for (const bad of ['v1/x', '', '*', '/v1/**/x', '/v1/a*', '/v1/*a', '/v1/***', '/**/**']) t.type(pathPatternProblem(bad), 'string', bad);
});
