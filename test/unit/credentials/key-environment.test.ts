// Key environments (SPEC §5 rev 2): which key ids a live, test or any proxy refuses, and the one
// warning line an applied document holding such keys gets (key ids and count, never a hash).
import t from 'tap';
import { Writable } from 'node:stream';
import { keysOutsideEnvironment, requiredPrefix, warnOutsideEnvironment } from '../../../src/credentials/key-environment.js';
import { createLoggers } from '../../../src/telemetry/logger.js';
import { snapshotOf } from '../../helpers/fake-context.js';

const IDS = ['ck_live_a', 'ck_test_b', 'ck_legacy', 'ck_live_c', 'ck_testing', 'ck_test_'];

t.test('the prefix of each environment', async (t) => {
  t.equal(requiredPrefix('live'), 'ck_live_');
  t.equal(requiredPrefix('test'), 'ck_test_');
  t.equal(requiredPrefix('any'), undefined);
});

t.test('ids outside the environment, in document order; unprefixed ids are outside both', async (t) => {
  t.same(keysOutsideEnvironment(IDS, 'live'), ['ck_test_b', 'ck_legacy', 'ck_testing', 'ck_test_']);
  t.same(keysOutsideEnvironment(IDS, 'test'), ['ck_live_a', 'ck_legacy', 'ck_live_c', 'ck_testing']);
  t.same(keysOutsideEnvironment(IDS, 'any'), []);
});

/** The JSON lines `run` logs at level info and above. */
function logged(run: (logger: ReturnType<typeof createLoggers>['logger']) => void): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const { logger } = createLoggers('info', sink, false);
  run(logger);
  logger.flush();
  return lines;
}

t.test('one warning per document holding keys the proxy refuses, naming them', async (t) => {
  const keys = IDS.map((keyId) => ({ keyId, tenant: 'tnt_a', secret: `sk_${keyId}` }));
  const snapshot = snapshotOf([{ id: 'tnt_a' }], keys);
  const lines = logged((logger) => warnOutsideEnvironment(snapshot, 'live', logger));
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], { level: 'warn', environment: 'live', count: 4, keyIds: ['ck_test_b', 'ck_legacy', 'ck_testing', 'ck_test_'] });
  t.match(String(lines[0]?.['msg']), /another environment.*refuses/);
  t.notMatch(JSON.stringify(lines), /sha256|sk_/, 'never a hash or a secret');
  t.same(logged((logger) => warnOutsideEnvironment(snapshot, 'any', logger)), [], 'any: nothing to warn about');
  const onlyLive = snapshotOf([{ id: 'tnt_a' }], [{ keyId: 'ck_live_a', tenant: 'tnt_a', secret: 's' }]);
  t.same(logged((logger) => warnOutsideEnvironment(onlyLive, 'live', logger)), [], 'a document of its own environment: silent');
});

t.test('a long list is cut at 20 ids; the count is whole', async (t) => {
  const keys = Array.from({ length: 25 }, (_, i) => ({ keyId: `ck_test_${i}`, tenant: 'tnt_a', secret: 's' }));
  const [line] = logged((logger) => warnOutsideEnvironment(snapshotOf([{ id: 'tnt_a' }], keys), 'live', logger));
  t.equal(line?.['count'], 25);
  t.equal((line?.['keyIds'] as unknown[]).length, 20);
});
