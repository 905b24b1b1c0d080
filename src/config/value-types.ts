/**
 * The kinds of value a config key takes. Each pairs the reader that checks and converts a YAML value
 * (values.ts) with the JSON Schema that describes the same rule, built from the same arguments, so a
 * range or a list of choices is written once. Keyword tables (keywords.ts `key()`) are made of these.
 */
import type { IpAddress } from './addresses.js';
import { DURATION_PATTERN, formatDuration } from './durations.js';
import { type JsonSchema, type KeywordTable, type Nested, readSection, type ValueType } from './keywords.js';
import type { DurationOptions, Value } from './values.js';

export function string(): ValueType<string> {
  return { read: (v) => v.string(), schema: () => ({ type: 'string', minLength: 1 }), summary: 'string' };
}

export function bool(): ValueType<boolean> {
  return { read: (v) => v.bool(), schema: () => ({ type: 'boolean' }), summary: '`true` or `false`' };
}

export function int(min: number, max?: number): ValueType<number> {
  return {
    read: (v) => v.int(min, max),
    schema: () => ({ type: 'integer', minimum: min, ...(max === undefined ? {} : { maximum: max }) }),
    summary: max === undefined ? `integer ≥ ${min}` : `integer ${min}–${max}`,
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
    ...(options.max === undefined ? {} : { maximum: options.max / 1000 }),
    ...(options.wholeSeconds === true ? { multipleOf: 1 } : {}),
  };
}

function durationSummary(options: DurationOptions): string {
  const min = options.min ?? 0;
  const parts = ['duration'];
  if (options.exclusiveMin === true) parts.push(`> ${formatDuration(min)}`);
  else if (min > 0) parts.push(`≥ ${formatDuration(min)}`);
  if (options.max !== undefined) parts.push(`≤ ${formatDuration(options.max)}`);
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

export function absolutePath(): ValueType<string> {
  return {
    read: (v) => v.absolutePath(),
    schema: () => ({ type: 'string', pattern: '^/' }),
    summary: 'absolute path',
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
          prefixItems: [{ type: 'string', pattern: '^/' }],
          items: { type: ['string', 'number'] },
        },
      ],
    }),
    summary: 'absolute path, or a list `[/path, arg, …]`',
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

/** A list of maps of `table`, each read by the handler with its context. */
export function listOfMaps<D>(table: KeywordTable<D>, heading: string): ValueType<Value> {
  return deferred(() => ({ type: 'array', items: tableSchema(table) }), 'list of maps', {
    table: () => table,
    shape: 'list',
    heading,
  });
}

/** A map from the user's names to entries of `table` (`vrrp_instances: {VI_1: {...}}`). */
export function namedMaps<D>(table: KeywordTable<D>, heading: string): ValueType<Value> {
  return deferred(() => ({ type: 'object', additionalProperties: tableSchema(table) }), 'map of names', {
    table: () => table,
    shape: 'named',
    heading,
  });
}

/** A list of `item`s; the list is refused (undefined) if any item is. */
export function listOf<T>(item: ValueType<T>, itemLabel: string, minItems = 0): ValueType<T[]> {
  return {
    read: (v) => {
      const items = v.list(itemLabel);
      if (items === undefined) return undefined;
      if (items.length < minItems) return v.fail(`${v.label} must list at least ${minItems} ${itemLabel}`);
      const read = items.map((i) => item.read(i));
      return read.every((x): x is T => x !== undefined) ? read : undefined;
    },
    schema: () => ({ type: 'array', items: item.schema(), ...(minItems > 0 ? { minItems } : {}) }),
    summary: `list of ${item.summary}`,
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
