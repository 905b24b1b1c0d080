/**
 * keepalived's idea, on YAML: every section is a table from key to handler. The walker here owns
 * what is common to all sections (unknown keys with a did-you-mean, duplicate keys, `<<` merge keys,
 * aliases); a handler validates one value, stores it in the section's draft and returns, recording
 * issues instead of throwing. Adding a key is one line in a table.
 *
 * A keyword made with `key()` also says what it accepts (a ValueType, which both reads the value and
 * describes it as JSON Schema), its default and what it means. That one entry is the source of the
 * validation, the defaults the readers fill in, `config/ipvsd.schema.json` and the README's config
 * reference (./schema.ts), so they cannot drift apart.
 */

import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import { hasUnsafeCharacters, quote } from '../errors.js';
import { formatPos } from './positions.js';
import { closest } from './suggest.js';
import { Value } from './values.js';

/** Names of instances, scripts and groups (in logs, metrics labels and the CLI). */
export const MAX_NAME_CHARS = 255;

export interface Field {
  readonly key: string;
  readonly keyNode: Node;
  readonly value: Value;
}

/** The keys a section set, with their values (aliases resolved), for cross-key checks. */
export type Fields = ReadonlyMap<string, Field>;

export type Handler<D> = (value: Value, draft: D, field: Field) => void;

/** The subset of JSON Schema (2020-12) that ./schema.ts emits. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** A kind of config value: how it is read (checked and converted) and how JSON Schema describes it. */
export interface ValueType<T> {
  /** Converts the value, or reports at its position and returns undefined. */
  readonly read: (value: Value) => T | undefined;
  /** Lazy, so that a section's type can name a table declared further down. */
  readonly schema: () => JsonSchema;
  /** One line for the README's "value" column. */
  readonly summary: string;
  /** A converted value as a config writes it (10000 ms → "10s"), for defaults in the docs. */
  readonly show?: (converted: T) => unknown;
  /** For the docs: the value is a map of `table` (`map`), a list of them, or a map of named ones. */
  readonly nested?: Nested;
}

export interface Nested {
  // biome-ignore lint/suspicious/noExplicitAny: the docs only read the tables' keyword docs
  readonly table: () => KeywordTable<any>;
  readonly shape: 'map' | 'list' | 'named' | 'named-lists';
  /** Documented under its own heading (used in several places, or large) instead of inline. */
  readonly heading?: string;
}

export interface KeyDoc<T> {
  readonly description: string;
  /** What the reader fills in when the key is absent (in converted form, e.g. ms). */
  readonly default?: T;
  /** A default that is not one value ("the service's port"), in words. */
  readonly defaultText?: string;
  /** The section is refused without this key (readSection reports it). */
  readonly required?: boolean;
  /** Only some variants of the section take this key (check types), for the docs. */
  readonly appliesTo?: readonly string[];
}

export interface Keyword<D> {
  readonly handle: Handler<D>;
  /** An explicit null means "unset" (as if the key were absent) instead of a bad value. */
  readonly nullable: boolean;
  readonly type?: ValueType<unknown>;
  readonly doc?: KeyDoc<unknown>;
}

/** A documented keyword whose default the reader takes from the table (`TABLE.port.default`). */
export interface DefaultedKeyword<D, T> extends Keyword<D> {
  readonly default: T;
}

export type KeywordTable<D> = Readonly<Record<string, Handler<D> | Keyword<D>>>;

export function nullable<D>(handle: Handler<D>): Keyword<D> {
  return { handle, nullable: true };
}

type Setter<D, T> = (draft: D, converted: T | undefined, value: Value) => void;

/**
 * A documented keyword: `type` reads the value, `set` stores the result (undefined when the value was
 * refused) in the draft. `nullable: true` lets an explicit null mean "unset".
 */
export function key<D, T>(
  type: ValueType<T>,
  doc: KeyDoc<NoInfer<T>> & { readonly default: NoInfer<T>; readonly nullable?: boolean },
  set: Setter<D, NoInfer<T>>,
): DefaultedKeyword<D, T>;
export function key<D, T>(
  type: ValueType<T>,
  doc: KeyDoc<NoInfer<T>> & { readonly nullable?: boolean },
  set: Setter<D, NoInfer<T>>,
): Keyword<D>;
export function key<D, T>(
  type: ValueType<T>,
  doc: KeyDoc<T> & { readonly nullable?: boolean },
  set: Setter<D, T>,
): Keyword<D> & { readonly default?: T } {
  const { nullable: allowsNull = false, ...rest } = doc;
  return {
    handle: (value, draft) => set(draft, type.read(value), value),
    nullable: allowsNull,
    type: type as ValueType<unknown>,
    doc: rest as KeyDoc<unknown>,
    default: doc.default,
  };
}

/** The keys a table marks as required (tables are constants: worked out once per table). */
const requiredCache = new WeakMap<object, readonly string[]>();
export function requiredKeys<D>(table: KeywordTable<D>): readonly string[] {
  let keys = requiredCache.get(table);
  if (keys === undefined) {
    keys = Object.entries(table)
      .filter(([, kw]) => typeof kw !== 'function' && kw.doc?.required === true)
      .map(([name]) => name);
    requiredCache.set(table, keys);
  }
  return keys;
}

interface Entry {
  readonly keyNode: Node;
  readonly valueNode: Node | null;
  readonly merged: boolean;
}

/** Own pairs first, then the pairs of `<<: *anchor` maps (YAML 1.1 merge keys), which never override. */
function entries(value: Value, map: YAMLMap, seen: Set<YAMLMap>): Entry[] {
  const own: Entry[] = [];
  const merged: Entry[] = [];
  for (const pair of map.items as Pair<Node | null, Node | null>[]) {
    const keyNode = pair.key;
    if (keyNode === null) continue;
    if (isScalar(keyNode) && keyNode.value === '<<' && keyNode.type === 'PLAIN') {
      const sources = isSeq(pair.value) ? (pair.value.items as Node[]) : [pair.value];
      for (const source of sources) {
        const target = value.ctx.resolve(source);
        if (!isMap(target)) {
          value.ctx.report(source ?? keyNode, 'a merge key (<<) takes an alias of a map or a list of them');
          continue;
        }
        if (seen.has(target)) continue;
        seen.add(target);
        merged.push(...entries(value, target, seen).map((e) => ({ ...e, merged: true })));
      }
      continue;
    }
    own.push({ keyNode, valueNode: pair.value, merged: false });
  }
  return merged.length === 0 ? own : [...own, ...merged];
}

/**
 * Walks the map in `value` through `table`, calling each key's handler with `draft`, and reports the
 * table's required keys that are missing. Returns the keys that were set, or undefined when the value
 * is not a map (already reported).
 */
export function readSection<D>(
  value: Value,
  section: string,
  table: KeywordTable<D>,
  draft: D,
): Fields | undefined {
  const map = value.map();
  if (map === undefined) return undefined;
  if (value.ctx.walking.has(map)) {
    value.fail(`${section} refers to a map that contains it (through an alias)`);
    return undefined;
  }
  value.ctx.walking.add(map);
  try {
    return walkSection(value, section, table, draft, map);
  } finally {
    value.ctx.walking.delete(map);
  }
}

function walkSection<D>(
  value: Value,
  section: string,
  table: KeywordTable<D>,
  draft: D,
  map: YAMLMap,
): Fields {
  const fields = walk(value, map, section, table, draft);
  requireKeys(value, section, fields, requiredKeys(table));
  return fields;
}

function walk<D>(value: Value, map: YAMLMap, section: string, table: KeywordTable<D>, draft: D): Fields {
  const fields = new Map<string, Field>();
  const pairs = map.items as Pair<Node | null, Node | null>[];
  // Without merge keys (almost every map) the pairs are the entries: no Entry objects, no `seen` set.
  if (!pairs.some(isMergeKey)) {
    for (const pair of pairs) {
      if (pair.key !== null) walkEntry(value, section, table, draft, fields, pair.key, pair.value, false);
    }
    return fields;
  }
  for (const entry of entries(value, map, new Set([map]))) {
    walkEntry(value, section, table, draft, fields, entry.keyNode, entry.valueNode, entry.merged);
  }
  return fields;
}

/** A key written as a plain name (a string or number scalar), as text; null for anything else. */
function plainName(keyNode: Node): string | null {
  return isScalar(keyNode) && (typeof keyNode.value === 'string' || typeof keyNode.value === 'number')
    ? String(keyNode.value)
    : null;
}

function isMergeKey(pair: Pair<Node | null, Node | null>): boolean {
  const keyNode = pair.key;
  return isScalar(keyNode) && keyNode.value === '<<' && keyNode.type === 'PLAIN';
}

function walkEntry<D>(
  value: Value,
  section: string,
  table: KeywordTable<D>,
  draft: D,
  fields: Map<string, Field>,
  keyNode: Node,
  valueNode: Node | null,
  merged: boolean,
): void {
  const key = plainName(keyNode);
  if (key === null) {
    value.ctx.report(keyNode, `keys in ${section} must be plain names`);
    return;
  }
  const first = fields.get(key);
  if (first !== undefined) {
    if (!merged) {
      value.ctx.report(
        keyNode,
        `duplicate key ${quote(key)} in ${section} (first at ${formatPos(value.ctx.pos(first.keyNode))})`,
      );
    }
    return;
  }
  const keyword = Object.hasOwn(table, key) ? table[key] : undefined;
  if (keyword === undefined) {
    // A key merged in (`<<: *anchor`) is reported where the anchor's map wrote it, as its own would be.
    const known = Object.keys(table);
    const guess = closest(key, known);
    const hint = guess !== null ? `did you mean ${quote(guess)}?` : `expected one of ${known.join(', ')}`;
    const via = merged ? ' (merged in with <<)' : '';
    value.ctx.report(keyNode, `unknown key ${quote(key)} in ${section}${via}; ${hint}`);
    return;
  }
  const field: Field = {
    key,
    keyNode,
    value: new Value(value.ctx, value.ctx.resolve(valueNode), key),
  };
  fields.set(key, field);
  if (typeof keyword === 'function') {
    keyword(field.value, draft, field);
    return;
  }
  if (keyword.nullable && field.value.isNull) return;
  keyword.handle(field.value, draft, field);
}

/**
 * Walks a map of user-named entries (`vrrp_instances: { VI_1: {...} }`), calling `read` for each
 * distinct name with the name's key position. Duplicate names are reported at the later one.
 */
export function readNamed(
  value: Value,
  section: string,
  read: (name: string, entry: Value, keyNode: Node) => void,
): void {
  const map = value.map();
  if (map === undefined) return;
  const first = new Map<string, Node>();
  for (const entry of entries(value, map, new Set([map]))) {
    const keyNode = entry.keyNode;
    const name = plainName(keyNode);
    if (name === null) {
      value.ctx.report(keyNode, `names in ${section} must be plain strings`);
      continue;
    }
    if (name.length > MAX_NAME_CHARS || hasUnsafeCharacters(name) || name === '') {
      value.ctx.report(
        keyNode,
        `name ${quote(name)} in ${section} must be 1 to ${MAX_NAME_CHARS} characters without control characters`,
      );
      continue;
    }
    const seen = first.get(name);
    if (seen !== undefined) {
      if (!entry.merged) {
        value.ctx.report(
          keyNode,
          `duplicate name ${quote(name)} in ${section} (first at ${formatPos(value.ctx.pos(seen))})`,
        );
      }
      continue;
    }
    first.set(name, keyNode);
    read(name, new Value(value.ctx, value.ctx.resolve(entry.valueNode), name), keyNode);
  }
}

/** Reports a required key that is absent, at the start of the section's map. */
export function requireKeys(value: Value, section: string, fields: Fields, keys: readonly string[]): boolean {
  let ok = true;
  for (const key of keys) {
    if (!fields.has(key)) {
      value.fail(`${section} is missing required key ${quote(key)}`);
      ok = false;
    }
  }
  return ok;
}
