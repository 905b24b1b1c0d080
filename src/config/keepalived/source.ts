/**
 * The whole configuration as one token stream: the main file with every `include` line replaced,
 * in place, by the tokens of the files it names. keepalived resolves an include relative to the
 * directory of the file that contains it, expands globs (sorted), and accepts an include on any
 * line, inside blocks too, so splicing tokens (not statements) is what matches it. Tokens keep
 * their own file and line, so every message points into the file that really holds the text.
 * File access is injected: the core stays testable without a disk.
 */

import { posix } from 'node:path';
import { quote } from '../../errors.js';
import type { Diagnostics, Place } from './diagnostics.js';
import { type GlobFs, glob } from './glob.js';
import { type Token, tokenize } from './tokenizer.js';

export interface SourceFs extends GlobFs {
  /** The file's text; throws (any error) when it cannot be read. */
  readFile(path: string): string;
}

/** keepalived's include keywords; the variants only differ in which errors they report. */
const INCLUDE_KEYWORDS = new Set(['include', 'includer', 'includem', 'includew', 'includeb', 'includea']);
const MAX_DEPTH = 16;

export interface Source {
  readonly tokens: Token[];
  /** Every file read, in reading order (the main file first). */
  readonly files: string[];
}

/** Groups tokens by line, in order. */
function lines(tokens: readonly Token[]): Token[][] {
  const out: Token[][] = [];
  let current: Token[] = [];
  for (const token of tokens) {
    const last = current[current.length - 1];
    if (last !== undefined && (last.line !== token.line || last.file !== token.file)) {
      out.push(current);
      current = [];
    }
    current.push(token);
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * Reads `file` (as given: relative to the working directory or absolute) and its includes.
 * The main file must be readable: its failure is thrown to the caller as an I/O error.
 */
export function readSource(file: string, fs: SourceFs, diagnostics: Diagnostics): Source {
  const files: string[] = [];
  const text = fs.readFile(file);
  files.push(file);
  const tokens = expand(
    tokenize(text, file, diagnostics),
    file,
    [posix.resolve(file)],
    fs,
    diagnostics,
    files,
  );
  return { tokens, files };
}

function expand(
  tokens: readonly Token[],
  file: string,
  stack: readonly string[],
  fs: SourceFs,
  diagnostics: Diagnostics,
  files: string[],
): Token[] {
  const out: Token[] = [];
  for (const line of lines(tokens)) {
    const [first, ...rest] = line;
    if (first === undefined || first.quoted || !INCLUDE_KEYWORDS.has(first.text)) {
      out.push(...line);
      continue;
    }
    const pattern = rest[0];
    if (pattern === undefined || pattern.text === '{' || pattern.text === '}') {
      diagnostics.error(first, `${first.text} needs a file name`);
      out.push(...rest);
      continue;
    }
    if (rest.length > 1) diagnostics.error(rest[1] as Token, `${first.text} takes one file name (or glob)`);
    out.push(...included(pattern, file, stack, fs, diagnostics, files));
  }
  return out;
}

/**
 * How messages name an included file: beside or under the main file, as a path from the main
 * file's directory as the user gave it (`conf.d/10-vrrp.conf` next to `keepalived.conf`);
 * elsewhere, absolute.
 */
function displayName(path: string, mainAbsolute: string, mainGiven: string): string {
  const relative = posix.relative(posix.dirname(mainAbsolute), path);
  if (relative.startsWith('..') || posix.isAbsolute(relative)) return path;
  return posix.join(posix.dirname(mainGiven), relative);
}

function included(
  pattern: Token,
  file: string,
  stack: readonly string[],
  fs: SourceFs,
  diagnostics: Diagnostics,
  files: string[],
): Token[] {
  const at: Place = pattern;
  if (stack.length > MAX_DEPTH) {
    diagnostics.error(at, `includes nest deeper than ${MAX_DEPTH} files`);
    return [];
  }
  const absolute = posix.resolve(posix.dirname(posix.resolve(file)), pattern.text);
  const matches = glob(absolute, fs);
  if (matches.length === 0) {
    // keepalived's plain include skips a pattern that matches nothing; say so rather than stay silent.
    diagnostics.warn(at, `include ${quote(pattern.text)} matches no file (${absolute})`);
    return [];
  }
  const out: Token[] = [];
  for (const path of matches) {
    if (stack.includes(path)) {
      diagnostics.error(at, `include of ${path} includes itself (through ${stack.join(' → ')})`);
      continue;
    }
    let text: string;
    try {
      text = fs.readFile(path);
    } catch (err) {
      diagnostics.error(at, `cannot read included file ${path}: ${(err as Error).message}`);
      continue;
    }
    const shown = displayName(path, stack[0] as string, files[0] as string);
    files.push(shown);
    out.push(...expand(tokenize(text, shown, diagnostics), shown, [...stack, path], fs, diagnostics, files));
  }
  return out;
}
