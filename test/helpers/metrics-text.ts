// Reading the admin listener's Prometheus text in tests: scrape /metrics, look up one sample by its
// exact label text, list the families of a type, and run `promtool check metrics` on a text.
import { spawnSync } from 'node:child_process';
import { request } from './http-client.js';

export async function scrape(adminUrl: string): Promise<string> {
  const res = await request(adminUrl, { path: '/metrics' });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text;
}

/** `name{labels} value` lines of one family, as a map from the label text (`{a="b"}` or '') to the value. */
export function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

/** One sample's value; undefined when the series is not exported at all. */
export function sampleValue(text: string, name: string, labels = ''): number | undefined {
  return samples(text, name).get(labels);
}

/** Names of the families declared `# TYPE name <type>`. */
export function familiesOfType(text: string, type: 'counter' | 'gauge' | 'histogram'): string[] {
  return [...text.matchAll(new RegExp(`^# TYPE (\\S+) ${type}$`, 'gm'))].map((m) => m[1] ?? '');
}

export type LintResult = { readonly ran: false } | { readonly ran: true; readonly ok: boolean; readonly output: string };

/** `promtool check metrics` on `text`; ran: false when promtool is not installed. */
export function promtoolCheck(text: string): LintResult {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text.endsWith('\n') ? text : `${text}\n`, encoding: 'utf8', timeout: 20_000 });
  if (r.error) return { ran: false };
  return { ran: true, ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
