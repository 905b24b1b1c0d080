/**
 * Readers for one config value: each checks the node's shape, converts it, and on a problem records
 * an issue at the value's position and returns undefined, so the caller simply leaves the field
 * unset and carries on. Messages name the key and say what was expected and what was found.
 */

import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { excerpt, hasUnsafeCharacters, quote } from '../errors.js';
import { type IpAddress, parseIp } from './addresses.js';
import { formatDuration, parseDuration } from './durations.js';
import type { ParseContext } from './positions.js';
import type { SourcePos } from './types.js';

/**
 * The longest duration any key takes: node's timers hold at most 2^31-1 ms (about 24.8 days; longer
 * ones fire after 1 ms), so no configured duration may reach that. Keys have tighter maxima of their own.
 */
export const MAX_DURATION_MS = 24 * 24 * 3_600_000;

/** A string key's longest value unless its table says otherwise (names, hosts, labels). */
export const MAX_STRING_CHARS = 255;
/** PATH_MAX (linux/limits.h) counts the terminating NUL. */
export const MAX_PATH_BYTES = 4095;
/** Arguments of a command (program included). */
export const MAX_ARGV = 64;

export interface DurationOptions {
  /** Smallest accepted value in ms (inclusive); default 0. */
  readonly min?: number;
  /** Whether `min` itself is refused (for "must be longer than 0"). */
  readonly exclusiveMin?: boolean;
  readonly max?: number;
  readonly wholeSeconds?: boolean;
}

const DURATION_SYNTAX = 'a duration like "2s", "500ms", "1m" or a number of seconds';

export function describeNode(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    if (node.value === null) return 'nothing';
    if (typeof node.value === 'string') return quote(node.value);
    return excerpt(
      node.source !== undefined && node.source !== '' ? String(node.source) : String(node.value),
    );
  }
  return 'an unsupported value';
}

export class Value {
  constructor(
    readonly ctx: ParseContext,
    readonly node: Node | null,
    readonly label: string,
  ) {}

  get pos(): SourcePos {
    return this.ctx.pos(this.node);
  }

  get isNull(): boolean {
    return this.node === null || (isScalar(this.node) && this.node.value === null);
  }

  /** Records an issue at this value and returns undefined, for `return v.fail(...)`. */
  fail(message: string): undefined {
    this.ctx.report(this.node, message);
    return undefined;
  }

  private expected(what: string): undefined {
    return this.fail(`${this.label} must be ${what}, got ${describeNode(this.node)}`);
  }

  /**
   * A non-empty string of at most `maxChars` characters, without control characters; a plain number
   * is taken as written (`interface: 0` → "0").
   */
  string(maxChars: number = MAX_STRING_CHARS): string | undefined {
    const node = this.node;
    let text: string | undefined;
    if (isScalar(node)) {
      if (typeof node.value === 'string' && node.value !== '') text = node.value;
      else if (typeof node.value === 'number' && node.source !== undefined) text = node.source;
    }
    if (text === undefined) return this.expected('a non-empty string');
    if (text.length > maxChars)
      return this.fail(`${this.label} must be at most ${maxChars} characters, got ${text.length}`);
    if (hasUnsafeCharacters(text))
      return this.fail(`${this.label} must not contain control characters, got ${quote(text)}`);
    return text;
  }

  bool(): boolean | undefined {
    const node = this.node;
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    return this.expected('true or false');
  }

  int(min: number, max?: number): number | undefined {
    const node = this.node;
    if (
      isScalar(node) &&
      typeof node.value === 'number' &&
      Number.isInteger(node.value) &&
      node.value >= min &&
      (max === undefined || node.value <= max)
    ) {
      return node.value;
    }
    // The message only when needed: a big config reads tens of thousands of valid integers.
    return this.expected(
      max === undefined ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`,
    );
  }

  oneOf<T extends string>(choices: readonly T[]): T | undefined {
    const node = this.node;
    if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number')) {
      const text = String(node.value);
      const found = choices.find((c) => c === text);
      if (found !== undefined) return found;
      return this.fail(`${this.label} ${quote(text)} is not one of ${choices.join(', ')}`);
    }
    return this.expected(`one of ${choices.join(', ')}`);
  }

  /** Milliseconds. */
  duration(options: DurationOptions = {}): number | undefined {
    const node = this.node;
    const raw = isScalar(node) ? node.value : undefined;
    if (typeof raw !== 'string' && typeof raw !== 'number') return this.expected(DURATION_SYNTAX);
    const min = options.min ?? 0;
    const max = options.max ?? MAX_DURATION_MS;
    const exclusive = options.exclusiveMin === true;
    const minText = `${exclusive ? 'longer than' : 'at least'} ${formatDuration(min)}`;
    const parsed = parseDuration(raw);
    if (!parsed.ok) {
      if (parsed.reason === 'negative') return this.expected(minText);
      if (parsed.reason === 'sub-millisecond') return this.expected('a whole number of milliseconds');
      return this.expected(DURATION_SYNTAX);
    }
    const ms = parsed.ms;
    if (options.wholeSeconds === true && ms % 1000 !== 0) return this.expected('a whole number of seconds');
    if (exclusive ? ms <= min : ms < min) return this.expected(minText);
    if (ms > max) return this.expected(`at most ${formatDuration(max)}`);
    return ms;
  }

  /** A duration in whole seconds, at least 1 s. */
  seconds(maxS: number): number | undefined {
    const ms = this.duration({ min: 1000, max: maxS * 1000, wholeSeconds: true });
    return ms === undefined ? undefined : ms / 1000;
  }

  ip(): IpAddress | undefined {
    const node = this.node;
    if (isScalar(node) && typeof node.value === 'string') {
      const ip = parseIp(node.value);
      if (ip !== null) return ip;
    }
    return this.expected('an IPv4 or IPv6 address');
  }

  /** At most `maxBytes` bytes (UTF-8), no control characters. */
  absolutePath(maxBytes: number = MAX_PATH_BYTES): string | undefined {
    const node = this.node;
    if (!isScalar(node) || typeof node.value !== 'string' || !node.value.startsWith('/'))
      return this.expected('an absolute path');
    const path = node.value;
    if (path.length > maxBytes || Buffer.byteLength(path) > maxBytes)
      return this.fail(`${this.label} must be at most ${maxBytes} bytes long`);
    if (hasUnsafeCharacters(path))
      return this.fail(`${this.label} must not contain control characters, got ${quote(path)}`);
    return path;
  }

  /**
   * A command run without a shell: an absolute path, or an argv list whose first item is one. A string
   * with blanks is refused rather than split, so quoting never has to be guessed.
   */
  command(): string[] | undefined {
    const node = this.node;
    if (isScalar(node) && typeof node.value === 'string' && /\s/.test(node.value.trim())) {
      return this.fail(
        `${this.label} must be an absolute path; give arguments as a list like [/path/to/cmd, arg]`,
      );
    }
    if (isScalar(node)) {
      const path = this.absolutePath();
      return path === undefined ? undefined : [path];
    }
    const items = this.list('argument');
    if (items === undefined) return undefined;
    if (items.length > MAX_ARGV) return this.fail(`${this.label} must have at most ${MAX_ARGV} arguments`);
    const [first, ...rest] = items;
    if (first === undefined) return this.expected('an absolute path or a non-empty list');
    const argv = [
      new Value(this.ctx, first.node, `${this.label} command`).absolutePath(),
      ...rest.map((v) => v.string(MAX_PATH_BYTES)),
    ];
    return argv.every((a): a is string => a !== undefined) ? argv : undefined;
  }

  /** The items of a list of at most `maxItems`, each labelled `itemLabel` in messages. */
  list(itemLabel: string, maxItems: number = Number.POSITIVE_INFINITY): Value[] | undefined {
    const node = this.node;
    if (!isSeq(node)) return this.expected('a list');
    if (node.items.length > maxItems)
      return this.fail(`${this.label} must list at most ${maxItems} items, got ${node.items.length}`);
    return node.items.map((item) => new Value(this.ctx, this.ctx.resolve(item as Node | null), itemLabel));
  }

  /** A list of non-empty strings, reporting each bad item. */
  stringList(itemLabel: string): string[] | undefined {
    const items = this.list(itemLabel);
    if (items === undefined) return undefined;
    const strings = items.map((v) => v.string());
    return strings.every((s): s is string => s !== undefined) ? strings : undefined;
  }

  map(): YAMLMap | undefined {
    const node = this.node;
    if (isMap(node)) return node;
    return this.expected('a map');
  }
}
