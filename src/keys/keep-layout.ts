// Gives an edited document back the original's bytes wherever the edit did not change anything.
// The yaml library re-serialises the whole document and normalises two things without meaning in YAML:
// the spaces before an inline comment (it writes one) and a comment after `key:` whose value is a block
// collection (it moves it to the next line). A line diff on text normalised for just those two finds
// the unchanged lines, which are then taken from the original as they were written.
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';

interface Unit {
  /** the text as written: one line, or `key:` plus the comment line the library moved there */
  readonly text: string;
  /** what it means, layout aside */
  readonly key: string;
}

const MAX_CELLS = 4_000_000;

const normalise = (line: string): string => line.replace(/(\S)[ \t]+#/g, '$1 #').trimEnd();

function unitsOf(text: string): Unit[] {
  const lines = text.split('\n');
  const units: Unit[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const next = lines[i + 1];
    if (/:[ \t]*$/.test(line) && next !== undefined && /^[ \t]*#/.test(next)) {
      units.push({ text: `${line}\n${next}`, key: normalise(`${line.trimEnd()} ${next.trim()}`) });
      i++;
    } else {
      units.push({ text: line, key: normalise(line) });
    }
  }
  return units;
}

/** For each edited unit, the index of the original unit it matches (longest common subsequence). */
function matchUnits(before: readonly Unit[], after: readonly Unit[]): Array<number | undefined> {
  const matched: Array<number | undefined> = new Array<number | undefined>(after.length).fill(undefined);
  let head = 0;
  for (; head < before.length && head < after.length && before[head]?.key === after[head]?.key; head++) matched[head] = head;
  let tail = 0;
  while (tail < before.length - head && tail < after.length - head && before[before.length - 1 - tail]?.key === after[after.length - 1 - tail]?.key) {
    matched[after.length - 1 - tail] = before.length - 1 - tail;
    tail++;
  }
  // an edit touches one entry, so the middle left for the quadratic table is a few lines; a prune of
  // entries far apart in a huge file could leave millions of cells: those lines keep the library's layout
  const b = before.slice(head, before.length - tail);
  const a = after.slice(head, after.length - tail);
  if (a.length * b.length > MAX_CELLS) return matched;
  const lcs = Array.from({ length: b.length + 1 }, () => new Array<number>(a.length + 1).fill(0));
  for (let i = b.length - 1; i >= 0; i--) {
    for (let j = a.length - 1; j >= 0; j--) {
      lcs[i]![j] = b[i]?.key === a[j]?.key ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  for (let i = 0, j = 0; i < b.length && j < a.length; ) {
    if (b[i]?.key === a[j]?.key) matched[head + j++] = head + i++;
    else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) i++;
    else j++;
  }
  return matched;
}

const COMMENTED = /^([ \t]*[^#\s][^#]*?:)(.*?\S)([ \t]+)(#.*)$/;

/**
 * A changed line (`status: revoked   # why`) keeps the column of its comment: the original line with
 * the same key and comment, among the unmatched ones between the same unchanged neighbours, says where.
 */
function realign(line: string, candidates: readonly string[]): string {
  const m = COMMENTED.exec(line);
  if (!m) return line;
  const [, key = '', value = '', , comment = ''] = m;
  for (const old of candidates) {
    const o = COMMENTED.exec(old);
    if (!o || o[1] !== key || o[4] !== comment) continue;
    const column = old.length - comment.length;
    const code = `${key}${value}`;
    return `${code}${' '.repeat(code.length < column ? column - code.length : (o[3] ?? ' ').length)}${comment}`;
  }
  return line;
}

/** `edited` with every unchanged line as `original` wrote it; `edited` itself if that would mean anything else. */
export function keepLayout(original: string, edited: string): string {
  const before = unitsOf(original);
  const after = unitsOf(edited);
  const matched = matchUnits(before, after);
  let anchor = -1;
  const merged = after
    .map((u, i) => {
      const m = matched[i];
      if (m !== undefined) {
        anchor = m;
        return before[m]?.text ?? u.text;
      }
      const next = matched.slice(i).find((x) => x !== undefined) ?? before.length;
      return realign(u.text, before.slice(anchor + 1, next).map((b) => b.text));
    })
    .join('\n');
  // normalising never looks inside quotes; should a quoted `  #` ever be matched wrongly, the data differ
  return isDeepStrictEqual(parse(merged), parse(edited)) ? merged : edited;
}
