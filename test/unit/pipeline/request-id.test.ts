// Request ids: `req_` + 32 lowercase hex, never repeated, also across refills of the random pool.
import t from 'tap';
import { newRequestId } from '../../../src/pipeline/context.js';

t.test('1000 ids (several pool refills): format and uniqueness', async (t) => {
  const ids = Array.from({ length: 1000 }, () => newRequestId());
  t.ok(ids.every((id) => /^req_[0-9a-f]{32}$/.test(id)), 'every id is req_ + 32 hex');
  t.equal(new Set(ids).size, ids.length, 'no id repeats');
  // 128 random bits: each hex position takes many values across 1000 ids (a stuck byte would not)
  for (let i = 4; i < 36; i++) {
    const values = new Set(ids.map((id) => id[i]));
    if (values.size < 12) t.fail(`position ${i} took only ${values.size} values`);
  }
});
