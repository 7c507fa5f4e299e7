// The setup most integration tests share: a recording upstream and the real proxy in front of it,
// started before the file's tests and closed after them. The returned object is filled in by
// t.before, so tests read `f.proxy` and `f.upstream` once they run.
import type { Test } from 'tap';
import { startUpstream, type RecordingUpstream } from './recording-upstream.js';
import { startProxy, type ProxyOptions, type TestProxy } from './start-proxy.js';

export interface ProxyFixture {
  readonly upstream: RecordingUpstream;
  readonly proxy: TestProxy;
}

export function proxyFixture(t: Test, options: Omit<ProxyOptions, 'upstreamUrl'>): ProxyFixture {
  const f = {} as { upstream: RecordingUpstream; proxy: TestProxy };
  t.before(async () => {
    f.upstream = await startUpstream();
    f.proxy = await startProxy({ ...options, upstreamUrl: f.upstream.url });
  });
  t.teardown(async () => {
    await f.proxy?.close();
    await f.upstream?.close();
  });
  return f;
}
