// effectiveStatus: what a written status means at a moment, as authentication treats it.
import t from 'tap';
import { effectiveStatus } from '../../../src/credentials/effective-status.js';

const NOW = Date.parse('2026-12-01T00:00:00Z');
const key = (status: 'provisioned' | 'active' | 'rotated' | 'revoked', dates: { graceUntil?: number; expiresAt?: number } = {}) => ({
  status,
  graceUntil: dates.graceUntil,
  expiresAt: dates.expiresAt,
});

t.test('the written status while no date has passed', async (t) => {
  t.equal(effectiveStatus(key('active'), NOW), 'active');
  t.equal(effectiveStatus(key('provisioned', { expiresAt: NOW + 1 }), NOW), 'provisioned');
  t.equal(effectiveStatus(key('rotated', { graceUntil: NOW + 1 }), NOW), 'rotated', 'inside its grace');
});

t.test('expired: a rotated key at or past its grace, any key at or past expiresAt', async (t) => {
  t.equal(effectiveStatus(key('rotated', { graceUntil: NOW }), NOW), 'expired', 'grace ends at graceUntil, as authentication reads it');
  t.equal(effectiveStatus(key('rotated', { graceUntil: NOW + 10, expiresAt: NOW - 1 }), NOW), 'expired', 'expiresAt wins over grace');
  t.equal(effectiveStatus(key('active', { expiresAt: NOW }), NOW), 'expired');
  t.equal(effectiveStatus(key('provisioned', { expiresAt: NOW - 1 }), NOW), 'expired');
});

t.test('a revoked key reads revoked whatever its dates', async (t) => {
  t.equal(effectiveStatus(key('revoked', { expiresAt: NOW - 1 }), NOW), 'revoked');
});
