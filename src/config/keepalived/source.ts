/**
 * The whole configuration as one stream of tokens: the main file with every `include` line
 * replaced, in place, by the tokens of the files it names. keepalived resolves an include relative
 * to the directory of the file that contains it, expands globs (sorted), and accepts an include on
 * any line, inside blocks too, after `@id`, `$NAME` and `~SEQ` have been applied to the line
 * (read_line, then check_include), so includes are spliced as tokens of logical lines. Tokens keep
 * their own file and line, so every message points into the file that really holds the text.
 * The stream is lazy: a file is split into lines as it is read and no token array of the whole
 * configuration is ever built, so memory follows what the converter keeps, not the file size.
 * File access is injected: the core stays testable without a disk.
 */

import { posix } from 'node:path';
import { quote } from '../../errors.js';
import type { Diagnostics, Place } from './diagnostics.js';
import { expandBraces, type GlobFs, glob, MAX_BRACE_PATTERNS } from './glob.js';
import { Preprocessor } from './preprocess.js';
import { type Token, tokenizeLine } from './tokenizer.js';

export interface SourceFs extends GlobFs {
  /** The file's text; throws (any error) when it cannot be read. */
  readFile(path: string): string;
}

export interface SourceOptions {
  /** keepalived's config id for `@ID` lines; null: none (every `@ID` line is left out, every `@^ID` kept). */
  readonly configId: string | null;
}

const MAX_DEPTH = 16;

export interface Source {
  /** Read once, lazily: the files are read as the tokens are taken. */
  readonly tokens: Iterable<Token>;
  /** Every file read so far, in reading order (the main file first). */
  readonly files: string[];
}

/**
 * Reads `file` (as given: relative to the working directory or absolute) and, as the tokens are
 * taken, its includes. The main file must be readable: its failure is thrown here, to the caller,
 * as an I/O error.
 */
export function readSource(
  file: string,
  fs: SourceFs,
  diagnostics: Diagnostics,
  options: SourceOptions = { configId: null },
): Source {
  const text = fs.readFile(file);
  const files = [file];
  const reader: Reader = { fs, d: diagnostics, files, pre: new Preprocessor(options, diagnostics) };
  return { tokens: fileTokens(reader, text, file, [posix.resolve(file)]), files };
}

interface Reader {
  readonly fs: SourceFs;
  readonly d: Diagnostics;
  readonly files: string[];
  readonly pre: Preprocessor;
}

function* fileTokens(r: Reader, text: string, shown: string, stack: readonly string[]): Generator<Token> {
  const dir = posix.dirname(stack[stack.length - 1] as string);
  let start = 0;
  let lineNo = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNo++;
    const raw = text.slice(start, end);
    start = end + 1;
    for (const logical of r.pre.lines(raw, shown, lineNo, dir)) {
      // keepalived's check_include/is_include: "include" (or includer/m/w/b/a) and a blank start
      // the line, and the rest of the line, braces and all, is one glob pattern.
      const include = /^include[rmwba]?[ \t]+/.exec(logical.text);
      if (include === null) {
        yield* tokenizeLine(logical, r.d);
        continue;
      }
      let pattern = logical.text.slice(include[0].length);
      if (/^"[^"]*"$/.test(pattern)) pattern = pattern.slice(1, -1);
      const at: Place = { file: logical.file, line: logical.line, col: logical.colAt(include[0].length) };
      yield* included(r, pattern, at, stack);
    }
  }
  r.pre.endFile();
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

function* included(r: Reader, pattern: string, at: Place, stack: readonly string[]): Generator<Token> {
  if (stack.length > MAX_DEPTH) {
    r.d.error(at, `includes nest deeper than ${MAX_DEPTH} files`);
    return;
  }
  const current = stack[stack.length - 1] as string;
  const absolute = posix.resolve(posix.dirname(current), pattern);
  if (expandBraces(absolute) === null) {
    r.d.error(
      at,
      `include ${quote(pattern)} makes more than ${MAX_BRACE_PATTERNS} patterns from its {...} lists`,
    );
    return;
  }
  const matches = glob(absolute, r.fs);
  if (matches.length === 0) {
    // keepalived's plain include skips a pattern that matches nothing; say so rather than stay silent.
    r.d.warn(at, `include ${quote(pattern)} matches no file (${absolute})`);
    return;
  }
  for (const path of matches) {
    if (stack.includes(path)) {
      r.d.error(at, `include of ${path} includes itself (through ${stack.join(' → ')})`);
      continue;
    }
    let text: string;
    try {
      text = r.fs.readFile(path);
    } catch (err) {
      r.d.error(at, `cannot read included file ${path}: ${(err as Error).message}`);
      continue;
    }
    const shown = displayName(path, stack[0] as string, r.files[0] as string);
    r.files.push(shown);
    yield* fileTokens(r, text, shown, [...stack, path]);
  }
}
