import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { KeywordTable } from '../../../src/config/keywords.js';
import { CONFIG_KEYWORDS } from '../../../src/config/parse.js';
import {
  configReference,
  configSchema,
  configSchemaText,
  REFERENCE_BEGIN,
  REFERENCE_END,
  SCHEMA_FILE,
  withReference,
} from '../../../src/config/schema.js';
import { issuesOf, yaml } from './helpers.js';
import { validate } from './json-schema-subset.js';

const root = new URL('../../../', import.meta.url).pathname;
const configDir = join(root, 'config');
const examples = readdirSync(configDir).filter((f) => f.endsWith('.yaml'));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: walks the tables' metadata only
type AnyTable = KeywordTable<any>;

/** Every keyword of every table reachable from the top, as `path` → keyword. */
function allKeys(table: AnyTable, prefix: string, out: Map<string, AnyTable[string]>, seen: Set<AnyTable>) {
  seen.add(table);
  for (const [name, kw] of Object.entries(table)) {
    out.set(`${prefix}${name}`, kw);
    const nested = typeof kw === 'function' ? undefined : kw.type?.nested;
    if (nested !== undefined && !seen.has(nested.table()))
      allKeys(nested.table(), `${prefix}${name}.`, out, seen);
  }
  return out;
}

describe('the JSON Schema generated from the keyword tables', () => {
  it(`is committed as ${SCHEMA_FILE} and up to date (run \`npm run schema\` after changing a table)`, () => {
    expect(readFileSync(join(root, SCHEMA_FILE), 'utf8')).toBe(configSchemaText());
  });

  it('documents every key of every table: a value type and a meaning', () => {
    const keys = allKeys(CONFIG_KEYWORDS, '', new Map(), new Set());
    expect(keys.size).toBeGreaterThan(80);
    const undocumented = [...keys].filter(([, kw]) => typeof kw === 'function' || kw.doc === undefined);
    expect(undocumented.map(([k]) => k)).toEqual([]);
  });

  it.each(examples)('accepts the example %s', (name) => {
    const doc = parse(readFileSync(join(configDir, name), 'utf8'));
    expect(validate(configSchema(), doc)).toEqual([]);
  });

  it('refuses what the validator refuses: unknown keys, out-of-range values, bad durations, missing keys', () => {
    const bad = {
      director: { ip_fwd: true, ipvs: { resync_interval: 'soon' } },
      vrrp_instances: { VI_1: { interface: 'eth0', priority: 256, state: 'primary' } },
      virtual_servers: [{ address: '203.0.113.300', port: 80, check: { status: [700] } }],
    };
    const errors = validate(configSchema(), bad);
    expect(errors).toEqual(
      expect.arrayContaining([
        '$.director: unknown key "ip_fwd"',
        expect.stringMatching(/^\$\.director\.ipvs\.resync_interval: "soon" does not match/),
        '$.vrrp_instances.VI_1: missing required "virtual_router_id"',
        '$.vrrp_instances.VI_1.priority: above 255',
        expect.stringMatching(/^\$\.vrrp_instances\.VI_1\.state: "primary" is not one of/),
        expect.stringMatching(/^\$\.virtual_servers\[0\]\.address: matches none of anyOf/),
        expect.stringMatching(/^\$\.virtual_servers\[0\]\.check\.status: matches none of anyOf/),
      ]),
    );
    // The same document, as YAML, is refused by the config validator at each of those places.
    const text = yaml(
      'director:',
      '  ip_fwd: true',
      '  ipvs: { resync_interval: soon }',
      'vrrp_instances:',
      '  VI_1: { interface: eth0, priority: 256, state: primary }',
      'virtual_servers:',
      '  - { address: 203.0.113.300, port: 80, check: { status: [700] } }',
    );
    expect(issuesOf(text).length).toBeGreaterThanOrEqual(errors.length);
  });

  it('carries the defaults the readers fill in, in config units', () => {
    const s = configSchema() as { properties: Record<string, Record<string, unknown>> };
    const director = s.properties.director as { properties: Record<string, Record<string, unknown>> };
    const ipvs = director.properties.ipvs as { properties: Record<string, Record<string, unknown>> };
    expect(ipvs.properties.resync_interval?.default).toBe('10s');
    expect(director.properties.ip_forward?.default).toBe(true);
  });
});

describe("the README's configuration reference", () => {
  it('is the one generated from the keyword tables (run `npm run schema` after changing a table)', () => {
    expect(readme).toContain(REFERENCE_BEGIN);
    expect(readme).toContain(REFERENCE_END);
    expect(withReference(readme, configReference())).toBe(readme);
  });

  it('has one row for every key of every table', () => {
    const tables = new Set<AnyTable>();
    allKeys(CONFIG_KEYWORDS, '', new Map(), tables);
    const rows = configReference()
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => (/^\| `([^`]+)`/.exec(line)?.[1] ?? '').split('.').at(-1));
    const expected = [...tables].flatMap((t) => Object.keys(t));
    expect(rows.length).toBe(expected.length);
    expect(new Set(rows)).toEqual(new Set(expected));
  });
});
