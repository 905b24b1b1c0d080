/**
 * The kinds of value a config key takes. Each pairs the reader that checks and converts a YAML value
 * (values.ts) with the JSON Schema that describes the same rule, built from the same arguments, so a
 * range or a list of choices is written once. Keyword tables (keywords.ts `key()`) are made of these.
 */

import { quote } from '../errors.js';
import type { IpAddress } from './addresses.js';
import { DURATION_PATTERN, formatDuration } from './durations.js';
import { type JsonSchema, type KeywordTable, type Nested, readSection, type ValueType } from './keywords.js';
import {
  type DurationOptions,
  MAX_ARGV,
  MAX_DURATION_MS,
  MAX_PATH_BYTES,
  MAX_STRING_CHARS,
  type Value,
} from './values.js';

/** No C0/C1 control characters, DEL, line separators or bidi controls (errors.ts hasUnsafeCharacters). */
const NO_CONTROL_PATTERN = String.raw`^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]*$`;

export function string(maxChars: number = MAX_STRING_CHARS): ValueType<string> {
  return {
    read: (v) => v.string(maxChars),
    schema: () => ({ type: 'string', minLength: 1, maxLength: maxChars, pattern: NO_CONTROL_PATTERN }),
    summary: `string of 1–${maxChars} characters`,
  };
}

/**
 * IFNAMSIZ (linux/if.h) is 16 with the NUL; dev_valid_name() refuses "", ".", "..", and names with
 * '/', ':' or blanks. Control characters are refused too: they are not names anyone means.
 */
export const MAX_IFNAME_BYTES = 15;
const IFNAME_PATTERN = String.raw`^(?!\.{1,2}$)[^/:\s\u0000-\u001f\u007f-\u009f]{1,15}$`;

/** A network interface name as the kernel accepts it. */
export function interfaceName(): ValueType<string> {
  return {
    read: (v) => {
      const name = v.string();
      if (name === undefined) return undefined;
      if (Buffer.byteLength(name) > MAX_IFNAME_BYTES)
        return v.fail(
          `${v.label} ${quote(name)} is longer than ${MAX_IFNAME_BYTES} bytes, the kernel's limit for interface names`,
        );
      if (name === '.' || name === '..' || /[/:\s]/.test(name))
        return v.fail(
          `${v.label} ${quote(name)} is not an interface name (no "/", ":" or blanks; not "." or "..")`,
        );
      return name;
    },
    schema: () => ({ type: 'string', pattern: IFNAME_PATTERN }),
    summary: `interface name (1–${MAX_IFNAME_BYTES} bytes, no \`/\`, \`:\` or blanks)`,
  };
}

export function bool(): ValueType<boolean> {
  return { read: (v) => v.bool(), schema: () => ({ type: 'boolean' }), summary: '`true` or `false`' };
}

export function int(min: number, max: number): ValueType<number> {
  return {
    read: (v) => v.int(min, max),
    schema: () => ({ type: 'integer', minimum: min, maximum: max }),
    summary: `integer ${min}–${max}`,
  };
}

export function oneOf<T extends string>(choices: readonly T[]): ValueType<T> {
  return {
    read: (v) => v.oneOf(choices),
    schema: () => ({ enum: [...choices] }),
    summary: choices.map((c) => `\`${c}\``).join(', '),
  };
}

function durationBounds(options: DurationOptions): JsonSchema {
  const min = (options.min ?? 0) / 1000;
  return {
    ...(options.exclusiveMin === true ? { exclusiveMinimum: min } : { minimum: min }),
    maximum: (options.max ?? MAX_DURATION_MS) / 1000,
    ...(options.wholeSeconds === true ? { multipleOf: 1 } : {}),
  };
}

function durationSummary(options: DurationOptions): string {
  const min = options.min ?? 0;
  const parts = ['duration'];
  if (options.exclusiveMin === true) parts.push(`> ${formatDuration(min)}`);
  else if (min > 0) parts.push(`≥ ${formatDuration(min)}`);
  parts.push(`≤ ${formatDuration(options.max ?? MAX_DURATION_MS)}`);
  if (options.wholeSeconds === true) parts.push('whole seconds');
  return parts.join(', ');
}

/**
 * `"2s"`, `"500ms"`, `"1m30s"` or a number of seconds; read as milliseconds. The schema can bound only
 * the bare-number form; the reader checks the bounds of both.
 */
export function duration(options: DurationOptions = {}): ValueType<number> {
  return {
    read: (v) => v.duration(options),
    schema: () => ({ type: ['string', 'number'], pattern: DURATION_PATTERN, ...durationBounds(options) }),
    summary: durationSummary(options),
    show: formatDuration,
  };
}

/** A duration of whole seconds from 1 s to `maxS`, read as seconds (kernel timeouts). */
export function seconds(maxS: number): ValueType<number> {
  const options: DurationOptions = { min: 1000, max: maxS * 1000, wholeSeconds: true };
  return {
    read: (v) => v.seconds(maxS),
    schema: () => ({ type: ['string', 'number'], pattern: DURATION_PATTERN, ...durationBounds(options) }),
    summary: durationSummary(options),
    show: (s) => formatDuration(s * 1000),
  };
}

/** The address with its family, for keys checked against the service's family. */
export function ipAddress(): ValueType<IpAddress> {
  return {
    read: (v) => v.ip(),
    schema: () => ({ type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] }),
    summary: 'IPv4 or IPv6 address',
  };
}

/** An address in canonical spelling. */
export function ip(): ValueType<string> {
  return { ...ipAddress(), read: (v) => v.ip()?.address } as ValueType<string>;
}

/** At most `maxBytes` bytes: PATH_MAX, or less where the path goes into a smaller field. */
export function absolutePath(maxBytes: number = MAX_PATH_BYTES): ValueType<string> {
  return {
    read: (v) => v.absolutePath(maxBytes),
    schema: () => ({ type: 'string', pattern: '^/', maxLength: maxBytes }),
    summary: `absolute path of at most ${maxBytes} bytes`,
  };
}

/** Run without a shell: an absolute path, or an argv list that starts with one. */
export function command(): ValueType<string[]> {
  return {
    read: (v) => v.command(),
    schema: () => ({
      anyOf: [
        { type: 'string', pattern: String.raw`^\s*/\S*\s*$` },
        {
          type: 'array',
          minItems: 1,
          maxItems: MAX_ARGV,
          prefixItems: [{ type: 'string', pattern: '^/', maxLength: MAX_PATH_BYTES }],
          items: { type: ['string', 'number'] },
        },
      ],
    }),
    summary: `absolute path, or a list \`[/path, arg, …]\` of at most ${MAX_ARGV} items`,
  };
}

/** A string whose form a pattern describes; `check` gives the precise message (and may convert). */
export function patterned(
  pattern: string,
  summary: string,
  check: (v: Value) => string | undefined,
): ValueType<string> {
  return { read: check, schema: () => ({ type: 'string', pattern }), summary };
}

/** A nested map read through its own keyword table into a fresh draft. */
export function section<D extends object>(label: string, table: KeywordTable<D>): ValueType<D> {
  return {
    read: (v) => {
      const draft = {} as D;
      return readSection(v, label, table, draft) === undefined ? undefined : draft;
    },
    schema: () => tableSchema(table),
    summary: 'map',
    nested: { table: () => table, shape: 'map' },
  };
}

/**
 * A value read later, once its context is known (a real server needs its service's family): the
 * reader keeps the Value, the schema still describes it.
 */
export function deferred(schema: () => JsonSchema, summary: string, nested?: Nested): ValueType<Value> {
  return { read: (v) => v, schema, summary, ...(nested === undefined ? {} : { nested }) };
}

/** A map whose table the handler walks itself (into a shared draft, or with context): kept as a Value. */
export function mapOf<D>(table: KeywordTable<D>, heading?: string): ValueType<Value> {
  return deferred(() => tableSchema(table), 'map', { table: () => table, shape: 'map', heading });
}

/** A list of at most `maxItems` maps of `table`, each read by the handler with its context. */
export function listOfMaps<D>(table: KeywordTable<D>, heading: string, maxItems: number): ValueType<Value> {
  return deferred(
    () => ({ type: 'array', items: tableSchema(table), maxItems }),
    `list of at most ${maxItems} maps`,
    {
      table: () => table,
      shape: 'list',
      heading,
    },
  );
}

/** A map from the user's names to entries of `table` (`vrrp_instances: {VI_1: {...}}`). */
export function namedMaps<D>(table: KeywordTable<D>, heading: string): ValueType<Value> {
  return deferred(() => ({ type: 'object', additionalProperties: tableSchema(table) }), 'map of names', {
    table: () => table,
    shape: 'named',
    heading,
  });
}

/** A list of `item`s, at most `maxItems`; the list is refused (undefined) if any item is. */
export function listOf<T>(
  item: ValueType<T>,
  itemLabel: string,
  maxItems: number,
  minItems = 0,
): ValueType<T[]> {
  return {
    read: (v) => {
      const items = v.list(itemLabel, maxItems);
      if (items === undefined) return undefined;
      if (items.length < minItems) return v.fail(`${v.label} must list at least ${minItems} ${itemLabel}`);
      const read = items.map((i) => item.read(i));
      return read.every((x): x is T => x !== undefined) ? read : undefined;
    },
    schema: () => ({ type: 'array', items: item.schema(), ...(minItems > 0 ? { minItems } : {}), maxItems }),
    summary: `list of at most ${maxItems} ${item.summary}`,
  };
}

/** A value whose converted form is not what the config writes (a key's default, for the docs). */
export function shownAs<T>(type: ValueType<T>, show: (converted: T) => unknown): ValueType<T> {
  return { ...type, show };
}

/** The JSON Schema of a keyword table: one property per key, required ones, nothing else. */
export function tableSchema<D>(table: KeywordTable<D>): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, kw] of Object.entries(table)) {
    if (typeof kw === 'function' || kw.type === undefined || kw.doc === undefined) {
      properties[name] = {};
      continue;
    }
    const { doc, type } = kw;
    const base = type.schema();
    const value: JsonSchema = kw.nullable ? { anyOf: [base, { type: 'null' }] } : base;
    const shown = doc.default === undefined ? undefined : (type.show?.(doc.default) ?? doc.default);
    const applies = doc.appliesTo === undefined ? '' : ` Only for ${doc.appliesTo.join(', ')}.`;
    const defaultText = doc.defaultText === undefined ? '' : ` Default: ${doc.defaultText}.`;
    const sentence = /[.!?]$/.test(doc.description) ? doc.description : `${doc.description}.`;
    properties[name] = {
      description: `${sentence}${applies}${defaultText}`,
      ...value,
      ...(shown === undefined ? {} : { default: shown }),
    };
    if (doc.required === true) required.push(name);
  }
  return {
    type: 'object',
    properties,
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: false,
  };
}
