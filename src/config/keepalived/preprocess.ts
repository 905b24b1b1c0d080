/**
 * keepalived's config language below the keywords, as lib/parser.c (2.2.7) reads it line by line
 * in read_line(): comments and leading/trailing blanks go (decomment), a line starting `@ID ` is
 * kept only when ID is the config id (`@^ID `: only when it is not), `$NAME=VALUE` defines a
 * parameter (check_definition; a value ending in `\` goes on over the next lines), `$NAME` and
 * `${NAME}` elsewhere are replaced by the value (replace_param: the inserted text is read again,
 * so values may use other parameters; a multi-line value only at the end of a line, its lines
 * becoming lines of their own), and `~SEQ(VAR, [START,] [STEP,] END) TEXT` repeats TEXT with
 * $VAR counting (add_seq). Each logical line keeps the file and line the operator wrote, and the
 * column of every character where the text was not substituted, so messages point at the source.
 *
 * Work is bounded where keepalived's is not (a `$A=$A` loop, a ~SEQ of a billion lines): a line
 * may be substituted MAX_REPLACEMENTS times and grow to MAX_LINE characters, and one source line
 * may make MAX_GENERATED lines, each excess reported at the line that caused it.
 */
import { quote } from '../../errors.js';
import type { Diagnostics, Place } from './diagnostics.js';

export interface LogicalLine {
  /** Unique over the whole configuration: the parser ends a statement's arguments where it changes. */
  readonly id: number;
  readonly text: string;
  readonly file: string;
  readonly line: number;
  /** The 1-based source column of text[i]. */
  colAt(i: number): number;
}

const MAX_REPLACEMENTS = 1000;
const MAX_LINE = 64 * 1024;
const MAX_GENERATED = 100_000;

interface Definition {
  /** The lines of the value; more than one for a multi-line definition. */
  readonly lines: string[];
  readonly multiline: boolean;
  /** Built-ins whose value is computed where they are used. */
  readonly builtin?: 'random' | 'pwd';
}

/** Removes a comment (`#`/`!` outside double quotes; `\#` and `\!` stand for the characters) and outer blanks. */
export function decomment(raw: string, file: string, line: number, id: number): LogicalLine {
  const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  let start = 0;
  while (start < text.length && (text[start] === ' ' || text[start] === '\t')) start++;
  let out = '';
  let cols: number[] | null = null;
  let quote = false;
  let i = start;
  for (; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') quote = !quote;
    else if (c === '\\' && i + 1 < text.length) {
      const next = text[i + 1] as string;
      if (!quote && (next === '#' || next === '!')) {
        // the backslash goes: columns from here on are no longer an offset
        cols ??= Array.from({ length: out.length }, (_, k) => start + k + 1);
        out += next;
        cols.push(i + 2);
      } else {
        out += c + next;
        cols?.push(i + 1, i + 2);
      }
      i++;
      continue;
    } else if (!quote && (c === '#' || c === '!')) break;
    out += c;
    cols?.push(i + 1);
  }
  let end = out.length;
  while (end > 0 && (out[end - 1] === ' ' || out[end - 1] === '\t')) end--;
  out = out.slice(0, end);
  const map = cols;
  return {
    id,
    text: out,
    file,
    line,
    colAt: map === null ? (k) => start + k + 1 : (k) => map[Math.min(k, map.length - 1)] ?? 1,
  };
}

/** A line's text with its column map, while substitution rewrites it. */
interface Working {
  text: string;
  cols: number[];
}

function working(l: LogicalLine): Working {
  return { text: l.text, cols: Array.from({ length: l.text.length }, (_, k) => l.colAt(k)) };
}

/** One pending piece of work: a text to read as a line, with where it came from. */
interface Pending {
  readonly text: string;
  readonly cols: number[] | null;
  readonly at: Place;
}

export interface PreprocessOptions {
  /** keepalived's config id (-i, default the host name up to the first dot); null: none. */
  readonly configId: string | null;
}

interface Sequence {
  readonly variable: string;
  next: number;
  readonly step: number;
  readonly last: number;
  readonly hex: boolean;
  readonly text: string;
  readonly cols: number[];
  readonly at: Place;
}

export class Preprocessor {
  private readonly definitions = new Map<string, Definition>();
  private nextId = 1;
  /** The definition whose value is still being read (its previous line ended in `\`). */
  private open: Definition | null = null;

  constructor(
    private readonly options: PreprocessOptions,
    private readonly d: Diagnostics,
  ) {
    this.definitions.set('_HASH', { lines: ['#'], multiline: false });
    this.definitions.set('_BANG', { lines: ['!'], multiline: false });
    this.definitions.set('_INSTANCE', { lines: [options.configId ?? ''], multiline: false });
    this.definitions.set('_PWD', { lines: [''], multiline: false, builtin: 'pwd' });
    this.definitions.set('_RANDOM', { lines: [''], multiline: false, builtin: 'random' });
  }

  /** A file ends: a definition cannot go on into the next one. */
  endFile(): void {
    this.open = null;
  }

  /**
   * The logical lines of one source line of `file` (in `dir`, for $_PWD), in order. Bounded:
   * generated lines past MAX_GENERATED are reported and dropped.
   */
  *lines(raw: string, file: string, line: number, dir: string): Generator<LogicalLine> {
    const first = decomment(raw, file, line, 0);
    if (this.open !== null) {
      // only a really empty line ends it (keepalived's read_line tests the raw length)
      if (raw === '' || raw === '\r') {
        this.open = null;
        return;
      }
      if (first.text === '') return;
      const cont = first.text.endsWith('\\');
      const text = cont ? first.text.slice(0, -1).trimEnd() : first.text;
      if (text !== '') this.open.lines.push(text);
      if (!cont) this.open = null;
      return;
    }
    if (first.text === '') return;
    const c = first.text[0];
    if (c !== '@' && c !== '~' && !first.text.includes('$')) {
      // the plain line, as almost every line is: no copy of its text or columns
      yield { ...first, id: this.nextId++ };
      return;
    }
    const at: Place = { file, line, col: first.colAt(0) };
    // A stack, not recursion: ~SEQ lines may nest and multi-line values hold further references.
    const stack: (Pending | Sequence)[] = [{ text: first.text, cols: working(first).cols, at }];
    let generated = 0;
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as Pending | Sequence;
      let item: Pending;
      if ('variable' in top) {
        const value = top.hex ? top.next.toString(16) : String(top.next);
        this.definitions.set(top.variable, { lines: [value], multiline: false });
        item = { text: top.text, cols: top.cols, at: top.at };
        top.next += top.step;
        if ((top.step > 0 && top.next > top.last) || (top.step < 0 && top.next < top.last)) stack.pop();
      } else {
        stack.pop();
        item = top;
      }
      const out = this.one(item, dir, stack);
      if (out === null) continue;
      if (++generated > MAX_GENERATED) {
        this.d.error(at, `this line makes more than ${MAX_GENERATED} lines (~SEQ or parameters); stopped`);
        return;
      }
      const cols = out.cols;
      yield {
        id: this.nextId++,
        text: out.text,
        file,
        line: item.at.line,
        colAt: (k) => cols[Math.min(k, cols.length - 1)] ?? item.at.col,
      };
    }
  }

  /** One line through keepalived's loop; null when it yields no line of its own. */
  private one(item: Pending, dir: string, stack: (Pending | Sequence)[]): Working | null {
    const w: Working = { text: item.text, cols: item.cols ?? Array(item.text.length).fill(item.at.col) };
    for (let round = 0; ; round++) {
      if (w.text.startsWith('@')) {
        if (!this.conditional(w)) return null;
      }
      if (w.text.startsWith('$') && this.define(w)) return null;
      if (/^~(SEQ|LST)/.test(w.text)) {
        if (w.text.startsWith('~LST')) {
          this.d.error(
            item.at,
            '~LST is not supported by convert: expand the list by hand or write it as ~SEQ',
          );
        } else this.sequence(w, item.at, stack);
        return null;
      }
      if (w.text.startsWith('~') || !w.text.includes('$')) return w;
      const replaced = this.replace(w, item.at, dir, stack);
      if (replaced === 'none') return w;
      if (replaced === 'failed') return null;
      const again = decomment(w.text, item.at.file, item.at.line, 0);
      // decomment only cuts: keep the columns of what is left
      const offset = w.text.length - w.text.trimStart().length;
      w.cols = w.cols.slice(offset, offset + again.text.length);
      w.text = again.text;
      if (w.text === '') return null;
      if (round > MAX_REPLACEMENTS) {
        this.d.error(item.at, `parameter substitution does not end after ${MAX_REPLACEMENTS} rounds`);
        return null;
      }
      if (!w.text.startsWith('@') && !w.text.includes('$')) return w;
    }
  }

  /** `@ID rest` / `@^ID rest`: true (and the prefix removed) when the line is for this director. */
  private conditional(w: Working): boolean {
    const negated = w.text.startsWith('@^');
    const offset = negated ? 2 : 1;
    const m = /[ \t]/.exec(w.text.slice(offset));
    if (m === null) return false; // keepalived: nothing after the id, nothing to keep
    const id = w.text.slice(offset, offset + m.index);
    const matches = this.options.configId !== null && id === this.options.configId;
    if (matches === negated) return false;
    let start = offset + m.index;
    while (w.text[start] === ' ' || w.text[start] === '\t') start++;
    w.text = w.text.slice(start);
    w.cols = w.cols.slice(start);
    return true;
  }

  /** `$NAME = VALUE` (keepalived's check_definition); false when the line is not a definition. */
  private define(w: Working): boolean {
    // no blank before "=": check_definition stops at the first character that is not a name's
    const m = /^\$([A-Za-z_][A-Za-z0-9_]*)=[ \t]*/.exec(w.text);
    if (m === null) return false;
    let value = w.text.slice(m[0].length);
    const multiline = value.endsWith('\\');
    if (multiline) value = value.slice(0, -1).trimEnd();
    const def: Definition = { lines: value === '' ? [] : [value], multiline };
    this.definitions.set(m[1] as string, def);
    if (multiline) this.open = def;
    return true;
  }

  /**
   * Replaces `$NAME` / `${NAME}` left to right, reading inserted text again (keepalived's
   * replace_param). 'none': nothing known was referenced (the line stays as written).
   */
  private replace(
    w: Working,
    at: Place,
    dir: string,
    stack: (Pending | Sequence)[],
  ): 'none' | 'done' | 'failed' {
    let pos = w.text.indexOf('$');
    let count = 0;
    let found = false;
    while (pos !== -1 && pos + 1 < w.text.length) {
      const ref = this.reference(w.text, pos);
      if (ref === null) {
        pos = w.text.indexOf('$', pos + 1);
        continue;
      }
      if (++count > MAX_REPLACEMENTS) {
        this.d.error(at, `parameter substitution does not end (more than ${MAX_REPLACEMENTS} replacements)`);
        return 'failed';
      }
      found = true;
      const def = ref.def;
      let value = def.lines[0] ?? '';
      if (def.builtin === 'pwd') value = dir;
      if (def.builtin === 'random') {
        this.d.error(
          { file: at.file, line: at.line, col: w.cols[pos] ?? at.col },
          '$_RANDOM is not supported by convert: the converted config would hold one fixed number',
        );
        return 'failed';
      }
      if (def.multiline) {
        // keepalived reads the value's further lines as the lines after this one
        const col = w.cols[pos] ?? at.col;
        for (let k = def.lines.length - 1; k >= 1; k--) {
          stack.push({ text: def.lines[k] as string, cols: null, at: { file: at.file, line: at.line, col } });
        }
      }
      const col = w.cols[pos] ?? at.col;
      w.text = w.text.slice(0, pos) + value + w.text.slice(pos + ref.length);
      w.cols = [...w.cols.slice(0, pos), ...Array(value.length).fill(col), ...w.cols.slice(pos + ref.length)];
      if (w.text.length > MAX_LINE) {
        this.d.error(at, `parameter substitution makes a line longer than ${MAX_LINE} characters`);
        return 'failed';
      }
      if (value.trimStart().startsWith('~')) break;
      if (def.multiline) break;
      pos = w.text.indexOf('$', pos);
    }
    return found ? 'done' : 'none';
  }

  /** The definition `$...` at `pos` refers to, and the reference's length (keepalived's find_definition). */
  private reference(text: string, pos: number): { def: Definition; length: number } | null {
    const braces = text[pos + 1] === '{';
    const start = pos + (braces ? 2 : 1);
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(start, start + 256));
    if (m === null) return null;
    const name = m[0];
    let end = start + name.length;
    if (braces) {
      if (name === '_RANDOM') while (text[end] === ' ' || /\d/.test(text[end] ?? '')) end++;
      if (text[end] !== '}') return null;
      end++;
    } else if (end < text.length && !' \t,)'.includes(text[end] as string)) return null;
    const def = this.definitions.get(name);
    if (def === undefined) return null;
    // a multi-line value only where the reference ends the line
    if (def.multiline && end !== text.length) return null;
    return { def, length: end - pos };
  }

  /** `~SEQ(VAR, END)`, `~SEQ(VAR, START, END)`, `~SEQ(VAR, START, STEP, END)`, `~SEQx` in hex. */
  private sequence(w: Working, at: Place, stack: (Pending | Sequence)[]): void {
    const m = /^~SEQ(x?)[ \t]*\([ \t]*([^ \t,)]+)[ \t]*,([^)]*)\)[ \t]*/.exec(w.text);
    if (m === null) {
      this.d.error(at, `invalid ~SEQ ${quote(w.text)}: expected ~SEQ(VAR, [START,] [STEP,] END) TEXT`);
      return;
    }
    const hex = m[1] === 'x';
    const paramsText = this.expandSimple(m[3] as string);
    const numbers = paramsText.split(',').map((p) => p.trim());
    const values = numbers.map(strtol);
    if (values.some((v) => !Number.isSafeInteger(v)) || values.length > 3) {
      this.d.error(at, `invalid ~SEQ ${quote(w.text)}: the bounds must be integers`);
      return;
    }
    let start: number;
    let step: number;
    let last: number;
    if (values.length === 1) {
      last = values[0] as number;
      step = last < 1 ? -1 : 1;
      start = last < 0 ? -1 : 1;
    } else if (values.length === 2) {
      [start, last] = values as [number, number];
      step = start <= last ? 1 : -1;
    } else {
      [start, step, last] = values as [number, number, number];
      if (step === 0 || (start < last && step < 0) || (start > last && step > 0)) {
        this.d.error(at, `invalid ~SEQ values ${quote(w.text)}: the step never reaches the end`);
        return;
      }
    }
    if (hex && (start < 0 || last < 0)) {
      this.d.error(at, `~SEQx takes positive numbers only, got ${quote(w.text)}`);
      return;
    }
    if (Math.abs(last - start) / Math.abs(step) >= MAX_GENERATED) {
      this.d.error(at, `~SEQ of more than ${MAX_GENERATED} lines is not converted`);
      return;
    }
    const text = w.text.slice(m[0].length);
    stack.push({
      variable: m[2] as string,
      next: start,
      step,
      last,
      hex,
      text,
      cols: w.cols.slice(m[0].length),
      at,
    });
  }

  /** Single-line parameters in ~SEQ's bounds (keepalived substitutes them first). */
  private expandSimple(text: string): string {
    return text.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (all, name: string) => {
      const def = this.definitions.get(name);
      return def === undefined || def.multiline || def.builtin !== undefined ? all : (def.lines[0] ?? '');
    });
  }
}

/** C's strtol(p, NULL, 0) on a whole word: decimal, 0x hex or 0 octal; NaN otherwise. */
function strtol(p: string): number {
  const m = /^([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)$/.exec(p);
  if (m === null) return Number.NaN;
  const digits = m[2] as string;
  const n = /^0[xX]/.test(digits)
    ? Number.parseInt(digits.slice(2), 16)
    : digits.startsWith('0')
      ? Number.parseInt(digits, 8)
      : Number(digits);
  return m[1] === '-' ? -n : n;
}
