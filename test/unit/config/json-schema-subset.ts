/**
 * A validator for exactly the JSON Schema keywords src/config/schema.ts emits, so the tests can check
 * documents against the generated schema without a dependency. A keyword it does not know is an
 * error, never silently passed: if the generator starts emitting something new, this must learn it.
 */
import { isIPv4, isIPv6 } from 'node:net';

type Schema = { readonly [keyword: string]: unknown };

const ANNOTATIONS = new Set(['$schema', 'title', 'description', 'default']);
const ASSERTIONS = new Set([
  'type',
  'enum',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'uniqueItems',
  'properties',
  'required',
  'additionalProperties',
  'anyOf',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(wanted: string, actual: string): boolean {
  return wanted === actual || (wanted === 'number' && actual === 'integer');
}

/** Every violation as `path: message`; empty when `value` is valid. */
export function validate(schema: Schema, value: unknown, path = '$'): string[] {
  const errors: string[] = [];
  const fail = (message: string) => errors.push(`${path}: ${message}`);
  for (const keyword of Object.keys(schema)) {
    if (!ANNOTATIONS.has(keyword) && !ASSERTIONS.has(keyword)) {
      throw new Error(`${path}: the test validator does not know JSON Schema keyword "${keyword}"`);
    }
  }
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => typeMatches(t, actual))) {
      fail(`expected ${types.join(' or ')}, got ${actual}`);
      return errors;
    }
  }
  if (schema.enum !== undefined && !(schema.enum as unknown[]).includes(value)) {
    fail(`${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) fail(`below ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) fail(`above ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum)
      fail(`not above ${schema.exclusiveMinimum}`);
    if (typeof schema.multipleOf === 'number' && value % schema.multipleOf !== 0)
      fail(`not a multiple of ${schema.multipleOf}`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) fail('too short');
    if (typeof schema.maxLength === 'number' && [...value].length > schema.maxLength) fail('too long');
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value))
      fail(`${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (schema.format === 'ipv4' && !isIPv4(value)) fail(`${JSON.stringify(value)} is not an IPv4 address`);
    if (schema.format === 'ipv6' && !isIPv6(value)) fail(`${JSON.stringify(value)} is not an IPv6 address`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems)
      fail(`fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems)
      fail(`more than ${schema.maxItems} items`);
    if (schema.uniqueItems === true && new Set(value.map((v) => JSON.stringify(v))).size !== value.length)
      fail('items are not unique');
    const prefix = (schema.prefixItems as Schema[] | undefined) ?? [];
    value.forEach((item, i) => {
      const itemSchema = prefix[i] ?? (schema.items as Schema | undefined);
      if (itemSchema !== undefined) errors.push(...validate(itemSchema, item, `${path}[${i}]`));
    });
  }
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
    for (const name of (schema.required as string[] | undefined) ?? []) {
      if (!(name in object)) fail(`missing required "${name}"`);
    }
    for (const [name, v] of Object.entries(object)) {
      const property = properties[name];
      if (property !== undefined) errors.push(...validate(property, v, `${path}.${name}`));
      else if (schema.additionalProperties === false) fail(`unknown key "${name}"`);
      else if (typeof schema.additionalProperties === 'object' && schema.additionalProperties !== null)
        errors.push(...validate(schema.additionalProperties as Schema, v, `${path}.${name}`));
    }
  }
  if (schema.anyOf !== undefined) {
    const branches = (schema.anyOf as Schema[]).map((branch) => validate(branch, value, path));
    if (!branches.some((b) => b.length === 0)) fail(`matches none of anyOf: ${branches.flat().join('; ')}`);
  }
  return errors;
}
