// Unit tests of the check-allowlist stage (SPEC §6): a tenant without a list (none, null or empty)
// lets every client through, even an unknown one; with a list, the resolved client IP must be in it,
// and an unknown client IP (unparsable X-Forwarded-For) is denied. A credential's own list (rev 2)
// narrows its tenant's: both must admit. Refusals are 403 FORBIDDEN with reason ip_not_allowed (tenant
// list), credential_ip_not_allowed (the key's list) or client_ip_unknown. A report-only tenant's
// denial is noted in ctx.reportOnly and not refused; otherwise the stage writes nothing to the context.
import t, { type Test } from 'tap';
import { parseIp, type Ip } from '../../../src/net/ip-match.js';
import { checkAllowlist } from '../../../src/stages/check-allowlist.js';
import { fakeContext, refusal, snapshotOf } from '../../helpers/fake-context.js';

const snapshot = snapshotOf(
  [
    { id: 'tnt_open' },
    { id: 'tnt_null', ipAllowList: null },
    { id: 'tnt_empty', ipAllowList: [] },
    { id: 'tnt_listed', ipAllowList: ['203.0.113.0/24', '198.51.100.7', '2001:db8::/32'] },
    { id: 'tnt_report', ipAllowList: ['203.0.113.0/24'], reportOnly: true },
    { id: 'tnt_enforce', ipAllowList: ['203.0.113.0/24'], reportOnly: false },
  ],
  [
    { keyId: 'ck_open', tenant: 'tnt_open', secret: 's' },
    { keyId: 'ck_null', tenant: 'tnt_null', secret: 's' },
    { keyId: 'ck_empty', tenant: 'tnt_empty', secret: 's' },
    { keyId: 'ck_listed', tenant: 'tnt_listed', secret: 's' },
    // the key narrows its tenant's list to one address and an IPv6 range
    { keyId: 'ck_narrow', tenant: 'tnt_listed', secret: 's', ipAllowList: ['203.0.113.7', '2001:db8:1::/48'] },
    { keyId: 'ck_own_only', tenant: 'tnt_open', secret: 's', ipAllowList: ['192.0.2.0/24'] },
    { keyId: 'ck_own_empty', tenant: 'tnt_listed', secret: 's', ipAllowList: [] },
    { keyId: 'ck_own_null', tenant: 'tnt_open', secret: 's', ipAllowList: null },
    { keyId: 'ck_report', tenant: 'tnt_report', secret: 's', ipAllowList: ['203.0.113.7'] },
    { keyId: 'ck_enforce', tenant: 'tnt_enforce', secret: 's', ipAllowList: ['203.0.113.7'] },
  ],
);

const ip = (text: string): Ip => {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(`not an IP: ${text}`);
  return parsed;
};

/** The refusal of checkAllowlist for this key and client IP (undefined: allowed). */
function check(t: Test, keyId: string | undefined, clientIp: Ip | null | undefined): ReturnType<typeof refusal> {
  const ctx = fakeContext({ snapshot, ...(keyId === undefined ? {} : { authenticatedAs: keyId }) });
  ctx.clientIp = clientIp;
  const before = { credential: ctx.credential, clientIp: ctx.clientIp, path: ctx.path, headers: { ...ctx.req.headers }, reportOnly: undefined };
  const result = refusal(() => checkAllowlist(ctx));
  const after = { credential: ctx.credential, clientIp: ctx.clientIp, path: ctx.path, headers: { ...ctx.req.headers }, reportOnly: ctx.reportOnly };
  t.strictSame(after, before, 'context unchanged');
  return result;
}

const denied = (reason: string): object => ({ code: 'FORBIDDEN', reason, status: 403 });

t.test('a tenant without a list lets every client through, even an unknown one', async (t) => {
  for (const keyId of ['ck_open', 'ck_null', 'ck_empty']) {
    t.equal(check(t, keyId, ip('192.0.2.1')), undefined, `${keyId}: any IP`);
    t.equal(check(t, keyId, null), undefined, `${keyId}: unknown client IP`);
  }
  t.equal(check(t, undefined, null), undefined, 'no credential on the context: nothing to check');
});

t.test('a listed tenant: addresses and ranges, both families', async (t) => {
  for (const text of ['203.0.113.0', '203.0.113.7', '203.0.113.255', '198.51.100.7', '2001:db8::1', '2001:db8:ffff::9']) {
    t.equal(check(t, 'ck_listed', ip(text)), undefined, `${text} allowed`);
  }
  for (const text of ['203.0.114.1', '203.0.112.255', '198.51.100.8', '127.0.0.1', '2001:db9::1', '::1', '::ffff:192.0.2.1']) {
    t.strictSame(check(t, 'ck_listed', ip(text)), denied('ip_not_allowed'), `${text} denied`);
  }
  t.equal(check(t, 'ck_listed', ip('::ffff:203.0.113.7')), undefined, 'an IPv4-mapped client in an IPv4 range');
});

t.test('a listed tenant denies an unknown client IP', async (t) => {
  t.strictSame(check(t, 'ck_listed', null), denied('client_ip_unknown'), 'unknown (unparsable X-Forwarded-For)');
  t.strictSame(check(t, 'ck_listed', undefined), denied('client_ip_unknown'), 'never resolved');
});

t.test("a credential's own list narrows its tenant's: both must admit", async (t) => {
  t.equal(check(t, 'ck_narrow', ip('203.0.113.7')), undefined, '203.0.113.7: in both lists');
  t.strictSame(check(t, 'ck_narrow', ip('203.0.113.8')), denied('credential_ip_not_allowed'), "203.0.113.8: the tenant's list admits, the key's does not");
  t.strictSame(check(t, 'ck_narrow', ip('2001:db8::1')), denied('credential_ip_not_allowed'), "2001:db8::1: the tenant's /32 admits, the key's /48 does not");
  t.strictSame(check(t, 'ck_narrow', ip('2001:db8:1::9')), undefined, '2001:db8:1::9: in both');
  t.strictSame(check(t, 'ck_narrow', ip('192.0.2.1')), denied('ip_not_allowed'), "192.0.2.1: the tenant's list refuses first");
  t.strictSame(check(t, 'ck_narrow', null), denied('client_ip_unknown'), 'unknown client IP');
  t.equal(check(t, 'ck_listed', ip('203.0.113.8')), undefined, 'another key of the tenant is not narrowed');
});

t.test("a credential's own list under a tenant without one", async (t) => {
  t.equal(check(t, 'ck_own_only', ip('192.0.2.9')), undefined, 'inside the key’s list');
  t.strictSame(check(t, 'ck_own_only', ip('203.0.113.7')), denied('credential_ip_not_allowed'), 'outside the key’s list');
  t.strictSame(check(t, 'ck_own_only', null), denied('client_ip_unknown'), 'unknown client IP: denied since the key has a list');
});

t.test("a credential's empty or null list narrows nothing", async (t) => {
  t.equal(check(t, 'ck_own_empty', ip('203.0.113.8')), undefined, '[]: the tenant list alone decides (admits)');
  t.strictSame(check(t, 'ck_own_empty', ip('192.0.2.1')), denied('ip_not_allowed'), '[]: the tenant list alone decides (refuses)');
  t.equal(check(t, 'ck_own_null', null), undefined, 'null under an open tenant: everything, even an unknown IP');
  t.equal(snapshot.byKeyId.get('ck_own_empty')?.allowList, undefined, 'compiled to no list at all');
});

/** A report-only run: what was refused and what the stage noted on the context. */
function reportOnlyRun(keyId: string, clientIp: Ip | null): { refused: ReturnType<typeof refusal>; noted: unknown } {
  const ctx = fakeContext({ snapshot, authenticatedAs: keyId });
  ctx.clientIp = clientIp;
  return { refused: refusal(() => checkAllowlist(ctx)), noted: ctx.reportOnly };
}

t.test('a report-only tenant: denials are noted on the context, never refused', async (t) => {
  const noted = (reason: string): object => ({ refused: undefined, noted: [{ check: 'allowlist', reason }] });
  t.strictSame(reportOnlyRun('ck_report', ip('192.0.2.1')), noted('ip_not_allowed'), "outside the tenant's list");
  t.strictSame(reportOnlyRun('ck_report', ip('203.0.113.8')), noted('credential_ip_not_allowed'), "outside the key's list");
  t.strictSame(reportOnlyRun('ck_report', null), noted('client_ip_unknown'), 'unknown client IP');
  t.strictSame(reportOnlyRun('ck_report', ip('203.0.113.7')), { refused: undefined, noted: undefined }, 'admitted: nothing noted');
});

t.test('reportOnly: false enforces as when absent', async (t) => {
  t.strictSame(reportOnlyRun('ck_enforce', ip('192.0.2.1')), { refused: denied('ip_not_allowed'), noted: undefined });
  t.strictSame(reportOnlyRun('ck_enforce', ip('203.0.113.8')), { refused: denied('credential_ip_not_allowed'), noted: undefined });
  t.strictSame(reportOnlyRun('ck_enforce', ip('203.0.113.7')), { refused: undefined, noted: undefined });
});
