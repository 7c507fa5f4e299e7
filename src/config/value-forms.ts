// The string forms a config value takes (SPEC §3): durations, sizes, listen addresses, URLs, CIDRs,
// HTTP methods. Each parses into its value with a problem message naming the text found, and carries
// (as zod metadata, which parsing ignores) the pattern and hint `custody-proxy schema` gives editors.
// A pattern is as strict as the parser where a regular expression can be (durations, sizes, IPv4) and
// looser where it cannot (a port above 65535, IPv6 syntax): the proxy has the last word.
import { z } from 'zod';
import { DURATION, SIZE, parseDuration, parseSize } from './units.js';
import { LISTEN, parseListen } from './listen.js';
import { IPV4, parseCidr } from '../net/ip-match.js';
import { showValue } from './problems.js';

const unanchored = (re: RegExp): string => re.source.replace(/^\^/, '').replace(/\$$/, '');

// At least one non-zero digit: the same numbers as parseDuration(text) > 0, parseSize(text) > 0.
const POSITIVE_DURATION = /^\d*[1-9]\d*(ms|s|m|h|d)$/;
const POSITIVE_SIZE = /^\d*[1-9]\d*(B|KiB|MiB|GiB)?$/;
// Strict dotted-decimal IPv4 as the proxy reads it; IPv6 only by its characters (ipaddr.js decides).
const CIDR = new RegExp(`^(?:${unanchored(IPV4)}(?:/(?:3[0-2]|[12]?\\d))?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:/(?:12[0-8]|1[01]\\d|[1-9]?\\d))?)$`);
const HTTP_URL = new RegExp('^[Hh][Tt][Tt][Pp][Ss]?://[^?#\\s]+$');
const METHOD = /^[A-Z]+$/;

/** The editor hint of an IP address or CIDR; the credentials document's allowlists use it too. */
export const cidrMeta = {
  pattern: CIDR.source,
  patternErrorMessage: 'an IPv4 or IPv6 address or CIDR (strict four-part decimal IPv4), e.g. 10.0.0.0/8, 2001:db8::/32',
};

const DURATION_HINT = 'a duration: whole number and unit ms, s, m, h or d (500ms, 30s, 5m, 24h, 7d)';

/** The editor hint of a duration greater than 0; rate-limit windows use it too. */
export const positiveDurationMeta = { pattern: POSITIVE_DURATION.source, patternErrorMessage: `${DURATION_HINT}, greater than 0` };

/** The editor hint a parsed string carries (JSON Schema `pattern`, yaml-language-server's message). */
export interface StringHint {
  readonly pattern: string;
  readonly patternErrorMessage: string;
}

/**
 * A string parsed into its value: `parse` answers undefined for text it refuses, reported as
 * `problem(text)`. `base` lets a caller keep its own message for a value that is not a string.
 */
export function parsedString<T>(parse: (text: string) => T | undefined, problem: (text: string) => string, hint: StringHint, base: z.ZodString = z.string()) {
  return base
    .transform((text, ctx) => {
      const value = parse(text);
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: problem(text) });
        return z.NEVER;
      }
      return value;
    })
    .meta({ ...hint });
}

/** Milliseconds; `0s` allowed. */
export const duration = parsedString(parseDuration, (text) => `invalid duration ${showValue(text)} (use e.g. 500ms, 30s, 5m, 24h, 7d)`, {
  pattern: DURATION.source,
  patternErrorMessage: DURATION_HINT,
});

export const positiveDuration = duration
  .refine((ms) => ms > 0, { message: 'must be greater than 0' })
  .meta(positiveDurationMeta);

/** Bytes, greater than 0; a bare number in quotes is bytes. */
export const size = parsedString(
  (text) => {
    const bytes = parseSize(text);
    return bytes !== undefined && bytes > 0 ? bytes : undefined;
  },
  (text) => `invalid size ${showValue(text)} (use e.g. 512KiB, 1MiB)`,
  { pattern: POSITIVE_SIZE.source, patternErrorMessage: 'a size greater than 0: whole number and unit B, KiB, MiB or GiB (512KiB, 1MiB)' },
);

export const listen = parsedString(parseListen, (text) => `invalid listen address ${showValue(text)} (use host:port)`, {
  pattern: LISTEN.source,
  patternErrorMessage: 'host:port, an IPv6 host in brackets ([::]:8080); port 0: any free port',
});

function parseHttpUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && !url.search && !url.hash ? url : undefined;
}

export const httpUrl = parsedString(parseHttpUrl, (text) => `invalid URL ${showValue(text)} (http:// or https://, no query)`, {
  pattern: HTTP_URL.source,
  patternErrorMessage: 'an http:// or https:// URL without query or fragment',
});

/** The text as written, once ipaddr.js has read it as an address or CIDR. */
export const cidr = parsedString((text) => (parseCidr(text) ? text : undefined), (text) => `invalid IP address or CIDR ${showValue(text)}`, cidrMeta);

export const method = z.string().regex(METHOD, { message: 'must be an upper-case HTTP method' });

/** The patterns above, for tests that hold them against the parsers. */
export const VALUE_PATTERNS = { DURATION, POSITIVE_DURATION, SIZE, POSITIVE_SIZE, LISTEN, CIDR, HTTP_URL } as const;
