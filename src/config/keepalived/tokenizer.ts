/**
 * One logical line of keepalived.conf (comments already removed by preprocess.ts) to words,
 * keeping where each word was written. keepalived's rules: `{` and `}` are words of their own
 * even when glued to a neighbour (`VI_1{`); `"` and `'` quote, may sit in the middle of a word
 * and keep the blanks between them (`ab" c "d` is one word), and inside quotes backslash escapes
 * work as in the shell. Lines matter to the parser (a keyword's arguments end with its line), so
 * every token carries the id of its logical line: after `$NAME` substitution one source line can
 * become several logical lines, all pointing at the line the operator wrote.
 */
import type { Diagnostics, Place } from './diagnostics.js';
import { decomment, type LogicalLine } from './preprocess.js';

export interface Token extends Place {
  readonly text: string;
  /** Any part of the word was quoted: it can never be a brace, a comment or a keyword. */
  readonly quoted: boolean;
  /** The logical line the word is on (unique over the whole configuration, includes too). */
  readonly lineId: number;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/** One escape after a backslash inside quotes: the text and how many characters it used. */
function readEscape(line: string, i: number): { text: string; used: number } {
  const c = line[i] ?? '';
  const simple = SIMPLE_ESCAPES[c];
  if (simple !== undefined) return { text: simple, used: 1 };
  const hex = c === 'x' ? /^[0-9a-fA-F]{1,2}/.exec(line.slice(i + 1, i + 3)) : null;
  if (hex !== null)
    return { text: String.fromCharCode(Number.parseInt(hex[0], 16)), used: 1 + hex[0].length };
  const octal = /^[0-7]{1,3}/.exec(line.slice(i, i + 3));
  if (octal !== null)
    return { text: String.fromCharCode(Number.parseInt(octal[0], 8)), used: octal[0].length };
  if (c === 'c' && i + 1 < line.length) {
    return { text: String.fromCharCode((line.charCodeAt(i + 1) & 0x1f) >>> 0), used: 2 };
  }
  return { text: c, used: 1 };
}

const BLANK = /[ \t\f\v]/;

/** The words of one logical line; an unterminated quote is reported and ends its word at the end of the line. */
export function tokenizeLine(l: LogicalLine, diagnostics: Diagnostics): Token[] {
  const tokens: Token[] = [];
  const line = l.text;
  const at = (i: number): Place => ({ file: l.file, line: l.line, col: l.colAt(i) });
  const token = (text: string, quoted: boolean, i: number): Token => ({
    text,
    quoted,
    file: l.file,
    line: l.line,
    col: l.colAt(i),
    lineId: l.id,
  });
  let i = 0;
  while (i < line.length) {
    const c = line[i] ?? '';
    if (BLANK.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === '{' || c === '}') {
      tokens.push(token(c, false, i));
      i++;
      continue;
    }
    let word = '';
    let quoted = false;
    while (i < line.length) {
      const ch = line[i] ?? '';
      if (BLANK.test(ch) || ch === '{' || ch === '}') break;
      if (ch === '"' || ch === "'") {
        quoted = true;
        const close = ch;
        i++;
        let closed = false;
        while (i < line.length) {
          const q = line[i] ?? '';
          if (q === close) {
            closed = true;
            i++;
            break;
          }
          if (q === '\\' && i + 1 < line.length) {
            const e = readEscape(line, i + 1);
            word += e.text;
            i += 1 + e.used;
            continue;
          }
          word += q;
          i++;
        }
        if (!closed) diagnostics.error(at(start), `unterminated ${close} quote`);
        continue;
      }
      word += ch;
      i++;
    }
    tokens.push(token(word, quoted, start));
  }
  return tokens;
}

/**
 * Every word of a text taken as one file, comments removed but without the config language
 * ($NAME, @id, ~SEQ): the reader's core, for tests and tools.
 */
export function tokenize(text: string, file: string, diagnostics: Diagnostics): Token[] {
  const tokens: Token[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const l = decomment(raw, file, index + 1, index + 1);
    if (l.text !== '') tokens.push(...tokenizeLine(l, diagnostics));
  });
  return tokens;
}
