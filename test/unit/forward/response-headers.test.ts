// The response header filter: hop-by-hop names and the upstream's own X-Request-Id are dropped in any
// spelling (only names as long as a hop-by-hop one are lower-cased), names the upstream's Connection
// lines list are dropped whatever their length or place, everything else keeps its order, case and repeats.
import t from 'tap';
import { responseHeaders } from '../../../src/forward/response-headers.js';

t.test('hop-by-hop names in any spelling are dropped, end-to-end ones kept as sent', async (t) => {
  const raw = [
    'Content-Type', 'application/json',
    'CONNECTION', 'keep-alive',
    'keep-alive', 'timeout=5',
    'Proxy-Connection', 'x',
    'TRANSFER-ENCODING', 'chunked',
    'Upgrade', 'h2c',
    'te', 'trailers',
    'TRAILER', 'X-Sum',
    'Proxy-Authenticate', 'Basic',
    'X-REQUEST-ID', 'upstream-id',
    'Set-Cookie', 'a=1',
    'Set-Cookie', 'b=2',
    'date', 'today',
  ];
  t.same(responseHeaders(raw, 'req_1'), ['Content-Type', 'application/json', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'date', 'today', 'X-Request-Id', 'req_1']);
});

t.test('names listed in Connection are dropped whatever their length or spelling', async (t) => {
  // the listing comes after the names it lists, and over two lines in two spellings
  const raw = ['X-Hop', '1', 'x-much-longer-hop-name', '2', 'X-Kept', '3', 'X-Other', '4', 'Connection', 'X-HOP, x-Much-Longer-Hop-Name', 'CONNECTION', ' x-other ,'];
  t.same(responseHeaders(raw, 'req_2'), ['X-Kept', '3', 'X-Request-Id', 'req_2']);
  t.same(responseHeaders(['Connection', 'close', 'X-Kept', '1'], 'req_3'), ['X-Kept', '1', 'X-Request-Id', 'req_3'], 'Connection: close lists nothing');
});
