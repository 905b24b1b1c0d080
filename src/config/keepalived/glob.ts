/**
 * The glob(3) that keepalived's `include` uses: `*`, `?`, `[...]` within one path segment, and csh
 * brace lists (`{a,b}`), with matches sorted like glob does. Dot files match only a pattern that
 * starts with a dot. The directory listing is injected, so this is pure and tested with a fake.
 */
import { posix } from 'node:path';

export interface GlobFs {
  /** Entry names of a directory, or null when it cannot be listed. */
  readdir(dir: string): readonly string[] | null;
  /** Whether the path exists (file or directory). */
  exists(path: string): boolean;
}

/** More patterns than this from one include is refused: `{a,b}` twenty times over is a million. */
export const MAX_BRACE_PATTERNS = 1024;

/**
 * `a{b,c{d,e}}f` → abf, acdf, acef (nested, left to right); null when that makes more than
 * MAX_BRACE_PATTERNS patterns. A work stack, not recursion, so no pattern can exhaust the stack.
 */
export function expandBraces(pattern: string): string[] | null {
  const results: string[] = [];
  const stack = [pattern];
  while (stack.length > 0) {
    const p = stack.pop() as string;
    const alternatives = firstGroup(p);
    if (alternatives === null) results.push(p);
    else for (let k = alternatives.length - 1; k >= 0; k--) stack.push(alternatives[k] as string);
    if (results.length + stack.length > MAX_BRACE_PATTERNS) return null;
  }
  return results;
}

/** The patterns made by the first brace group with two or more alternatives; null: none. */
function firstGroup(pattern: string): string[] | null {
  let depth = 0;
  let open = -1;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '{') {
      if (depth === 0) open = i;
      depth++;
    } else if (c === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        const alternatives = splitTop(pattern.slice(open + 1, i));
        if (alternatives.length < 2) continue;
        const head = pattern.slice(0, open);
        const tail = pattern.slice(i + 1);
        return alternatives.map((alt) => `${head}${alt}${tail}`);
      }
    }
  }
  return null;
}

function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function hasMagic(segment: string): boolean {
  return /[*?[]/.test(segment);
}

function segmentRegex(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] ?? '';
    if (c === '\\' && i + 1 < segment.length) {
      source += `\\${segment[++i]}`;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close === -1) source += '\\[';
      else {
        let body = segment.slice(i + 1, close);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        source += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Absolute paths matching `pattern` (absolute); a pattern without magic matches if it exists. */
export function glob(pattern: string, fs: GlobFs): string[] {
  const results: string[] = [];
  for (const expanded of expandBraces(pattern) ?? []) {
    const segments = expanded.split('/').filter((s) => s !== '');
    let paths = ['/'];
    for (const segment of segments) {
      const next: string[] = [];
      for (const base of paths) {
        if (!hasMagic(segment)) {
          next.push(posix.join(base, segment.replace(/\\(.)/g, '$1')));
          continue;
        }
        const re = segmentRegex(segment);
        const names = [...(fs.readdir(base) ?? [])].sort();
        for (const name of names) {
          if (name.startsWith('.') && !segment.startsWith('.')) continue;
          if (re.test(name)) next.push(posix.join(base, name));
        }
      }
      paths = next;
    }
    // glob(3) sorts the matches of each brace alternative, in the alternatives' order.
    for (const path of paths.sort()) if (fs.exists(path) && !results.includes(path)) results.push(path);
  }
  return results;
}
