/**
 * The daemon's V8 heap settings live on the first line of src/bin/ipvsd.ts (`env -S node FLAGS`):
 * the node that runs the tests must accept them, or `ipvsd` would not start at all.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { shippedNodeFlags } from '../../../bench/check-scale/node-flags.mjs';

describe('ipvsd launcher node flags', () => {
  const flags = shippedNodeFlags(readFileSync('src/bin/ipvsd.ts', 'utf8'));

  it('are read from the env -S shebang', () => {
    expect(flags).toEqual(['--max-semi-space-size=8', '--heap-growing-percent=20', '--no-flush-bytecode']);
  });

  it('are accepted by this node', () => {
    // An option node or V8 does not know ends node at once ("bad option"): execFileSync throws.
    expect(execFileSync(process.execPath, [...flags, '-p', '"started"'], { encoding: 'utf8' }).trim()).toBe(
      'started',
    );
  });
});
