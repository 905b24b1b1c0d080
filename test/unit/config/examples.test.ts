import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';

const dir = new URL('../../../config/', import.meta.url).pathname;
const examples = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('the example configs in config/', () => {
  it('exist', () => expect(examples.length).toBeGreaterThan(0));
  it.each(examples)('%s validates', (name) => {
    const { issues } = parseConfig(readFileSync(join(dir, name), 'utf8'), name);
    expect(issues).toEqual([]);
  });
});
