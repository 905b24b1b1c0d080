/**
 * Reading keepalived argument words: numbers, timers (decimal seconds), booleans, addresses, and
 * command lines. Each reader reports a bad word at its position and returns undefined, so a
 * converter leaves the setting out and carries on to the next problem.
 */
import { quote } from '../../errors.js';
import { type IpAddress, parseIp } from '../addresses.js';
import type { Diagnostics, Place } from './diagnostics.js';
import type { Statement } from './parser.js';
import type { Token } from './tokenizer.js';

export const name = (s: Statement): string => s.keyword.text;

/** Reports missing or extra words; true when the count is within [min, max]. */
export function arity(s: Statement, d: Diagnostics, min: number, max: number = min): boolean {
  if (s.args.length < min) {
    d.error(
      s.keyword,
      `${name(s)} needs ${min === max ? min : `at least ${min}`} value${min === 1 ? '' : 's'}`,
    );
    return false;
  }
  const extra = s.args[max];
  if (extra !== undefined) {
    d.error(extra, `unexpected ${quote(extra.text)} after ${name(s)}`);
    return false;
  }
  return true;
}

/** The single argument of `s`, or undefined (reported). */
export function single(s: Statement, d: Diagnostics): Token | undefined {
  return arity(s, d, 1) ? s.args[0] : undefined;
}

export function int(
  t: Token | undefined,
  d: Diagnostics,
  what: string,
  min: number,
  max: number,
): number | undefined {
  if (t === undefined) return undefined;
  if (!/^-?\d+$/.test(t.text)) return d.error(t, `${what} must be an integer, got ${quote(t.text)}`);
  const n = Number(t.text);
  if (n < min || n > max) return d.error(t, `${what} must be from ${min} to ${max}, got ${n}`);
  return n;
}

/** keepalived's <TIMER>: seconds, fractions allowed; returned in whole milliseconds. */
export function timerMs(t: Token | undefined, d: Diagnostics, what: string): number | undefined {
  if (t === undefined) return undefined;
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(t.text)) {
    return d.error(t, `${what} must be a number of seconds, got ${quote(t.text)}`);
  }
  const ms = Number(t.text) * 1000;
  const rounded = Math.round(ms);
  if (Math.abs(ms - rounded) > 1e-6)
    d.warn(t, `${what} ${t.text}s is rounded to ${rounded}ms (ipvsd counts milliseconds)`);
  return rounded;
}

const TRUE_WORDS = new Set(['on', 'true', 'yes']);
const FALSE_WORDS = new Set(['off', 'false', 'no']);

/**
 * A flag keyword with an optional <BOOL> (`inhibit_on_failure`, `alpha on`): no word means true.
 * keepalived's check_true_false (lib/parser.c) takes the exact lower-case words; its handlers
 * report any other word (`alpha 1`, `alpha YES`) and ignore the line, so this warns and returns
 * undefined (the setting stays unset).
 */
export function flag(s: Statement, d: Diagnostics): boolean | undefined {
  if (!arity(s, d, 0, 1)) return undefined;
  const word = s.args[0];
  if (word === undefined) return true;
  if (TRUE_WORDS.has(word.text)) return true;
  if (FALSE_WORDS.has(word.text)) return false;
  d.warn(
    word,
    `${name(s)} ${quote(word.text)} is ignored, as keepalived ignores it (it takes on|off|true|false|yes|no, in lower case)`,
  );
  return undefined;
}

export function ip(t: Token | undefined, d: Diagnostics, what: string): IpAddress | undefined {
  if (t === undefined) return undefined;
  const parsed = parseIp(t.text);
  return parsed ?? d.error(t, `${what} must be an IPv4 or IPv6 address, got ${quote(t.text)}`);
}

/**
 * keepalived's script words: a script given as one (usually quoted) string is split at blanks,
 * with single or double quotes keeping blanks inside one argument, as keepalived does; given as
 * several words, each is an argument.
 */
export function splitCommand(words: readonly Token[]): string[] {
  if (words.length !== 1) return words.map((w) => w.text);
  const text = (words[0] as Token).text;
  const argv: string[] = [];
  let current = '';
  let inWord = false;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (quote !== null) {
      if (c === quote) quote = null;
      else current += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) argv.push(current);
      current = '';
      inWord = false;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) argv.push(current);
  return argv;
}

/**
 * A command for ipvsd (argv, no shell, argv[0] absolute). keepalived finds a bare program name on
 * the PATH; `/usr/bin/env` does the same lookup at run time, so such a command keeps working.
 */
export function command(
  words: readonly Token[],
  at: Place,
  d: Diagnostics,
  what: string,
): string[] | undefined {
  const argv = splitCommand(words);
  const program = argv[0];
  if (program === undefined || program === '') return d.error(at, `${what} needs a command`);
  if (program.startsWith('/')) return argv;
  if (program.includes('/')) {
    return d.error(at, `${what} ${quote(program)} is a relative path; give an absolute one`);
  }
  d.warn(
    at,
    `${what} ${quote(program)} is not an absolute path: it runs as /usr/bin/env ${program} (a PATH lookup, like keepalived's)`,
  );
  return ['/usr/bin/env', ...argv];
}

/** Milliseconds as a duration string for the YAML: whole seconds as "5s", else "1500ms". */
export function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
