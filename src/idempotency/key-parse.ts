// Parses the Idempotency-Key request header (SPEC §9) from the raw header lines of one request.
// The stage maps 'invalid' to 400 INVALID_IDEMPOTENCY_KEY and 'absent' to forwarding without dedupe
// (or 400 IDEMPOTENCY_KEY_REQUIRED when required). Both `abc` and `"abc"` yield the key `abc`.

export type ParsedIdempotencyKey =
  | { readonly kind: 'absent' }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'key'; readonly key: string };

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const ABSENT: ParsedIdempotencyKey = Object.freeze({ kind: 'absent' });
const INVALID: ParsedIdempotencyKey = Object.freeze({ kind: 'invalid' });

// Bare form: visible ASCII only (VCHAR, 0x21-0x7E), except DQUOTE: a quote inside a bare value is
// malformed quoting rather than part of a key, and rejecting it keeps `"abc"` == `abc` unambiguous.
const BARE = /^[\x21\x23-\x7e]+$/;
const VISIBLE = /[\x21-\x7e]/;

/**
 * rawValues: one entry per `Idempotency-Key` header line, as found in req.rawHeaders (never the
 * comma-joined req.headers value, which would hide a second line).
 *
 * Quoted form follows the RFC 8941 sf-string grammar, which allows SP (0x20) inside the quotes and
 * the escapes `\"` and `\\` only. We accept SP there because the IETF Idempotency-Key draft defines the
 * header as an sf-string; a bare value never contains SP. Parameters after the closing quote
 * (`"abc";x=1`) are rejected rather than ignored, so one key never has two spellings we cannot see.
 * The length limit (1-255) applies to the key after unquoting, and a quoted key of spaces only
 * (`" "`) counts as empty: it has no visible character.
 */
export function parseIdempotencyKey(rawValues: readonly string[] | undefined | null): ParsedIdempotencyKey {
  if (rawValues === undefined || rawValues === null || rawValues.length === 0) return ABSENT;
  if (rawValues.length > 1) return INVALID;
  // Field values carry no leading/trailing OWS (RFC 9110 §5.5); Node strips it, but be sure.
  const value = (rawValues[0] ?? '').replace(/^[ \t]+|[ \t]+$/g, '');
  const key = value.startsWith('"') ? unquote(value) : BARE.test(value) ? value : undefined;
  if (key === undefined || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !VISIBLE.test(key)) return INVALID;
  return { kind: 'key', key };
}

/** The content of an sf-string, or undefined when the value is not exactly one well-formed string. */
function unquote(value: string): string | undefined {
  let out = '';
  for (let i = 1; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x22) return i === value.length - 1 ? out : undefined;
    if (code === 0x5c) {
      const next = value.charCodeAt(++i);
      if (next !== 0x22 && next !== 0x5c) return undefined;
      out += String.fromCharCode(next);
    } else if (code >= 0x20 && code <= 0x7e) {
      out += value[i];
    } else {
      return undefined;
    }
  }
  return undefined; // no closing quote
}
