// The response header filter: hop-by-hop names and the upstream's own X-Request-Id are dropped in any
// spelling (only names as long as a hop-by-hop one are lower-cased), names the upstream's Connection
// lists are dropped whatever their length, everything else keeps its order, case and repeats.
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
  t.same(responseHeaders(raw, 'keep-alive', 'req_1'), ['Content-Type', 'application/json', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'date', 'today', 'X-Request-Id', 'req_1']);
});

t.test('names listed in Connection are dropped whatever their length or spelling', async (t) => {
  const raw = ['X-Hop', '1', 'x-much-longer-hop-name', '2', 'X-Kept', '3', 'Connection', 'X-HOP, x-Much-Longer-Hop-Name'];
  t.same(responseHeaders(raw, 'X-HOP, x-Much-Longer-Hop-Name', 'req_2'), ['X-Kept', '3', 'X-Request-Id', 'req_2']);
});
