/**
 * The daemon's malloc and V8 heap settings live on the first line of src/bin/ipvsd.ts
 * (`env -S NAME=VALUE node FLAGS`): the line must parse (the benchmarks and the VM pair start ipvsd
 * from it) and the node that runs the tests must accept the flags, or `ipvsd` would not start at all.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { shippedNodeLaunch } from '../../../bench/check-scale/node-flags.mjs';

describe('ipvsd launcher node flags', () => {
  const launch = shippedNodeLaunch(readFileSync('src/bin/ipvsd.ts', 'utf8'));
  const flags = launch?.flags ?? [];

  it('are read from the env -S shebang', () => {
    expect(launch?.env).toEqual({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '65536' });
    expect(flags).toEqual(['--max-semi-space-size=4', '--heap-growing-percent=20', '--no-flush-bytecode']);
  });

  it('reach node through env -S, environment included', () => {
    const shebang = readFileSync('src/bin/ipvsd.ts', 'utf8').split('\n', 1)[0] ?? '';
    const [envBinary, ...args] = shebang.slice(2).split(' ');
    // As the kernel runs the script: env with its one argument, then the script and its arguments.
    const out = execFileSync(
      envBinary as string,
      [args.join(' ').replace(' node ', ` ${process.execPath} `), '-p', 'process.env.MALLOC_ARENA_MAX'],
      { encoding: 'utf8' },
    );
    expect(out.trim()).toBe('2');
  });

  it('are accepted by this node', () => {
    // An option node or V8 does not know ends node at once ("bad option"): execFileSync throws.
    expect(execFileSync(process.execPath, [...flags, '-p', '"started"'], { encoding: 'utf8' }).trim()).toBe(
      'started',
    );
  });
});
