import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../../../src/config/suggest.js';

describe('editDistance', () => {
  it.each([
    ['scheduler', 'scheduler', 0],
    ['schedular', 'scheduler', 1],
    ['shceduler', 'scheduler', 1],
    ['sheduler', 'scheduler', 1],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
  ])('%s → %s is %d', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
  });
});

describe('closest', () => {
  const keys = ['scheduler', 'scheduler_flags', 'real_servers', 'port', 'protocol', 'persistence'];

  it('suggests the nearest key for a typo', () => {
    expect(closest('schedular', keys)).toBe('scheduler');
    expect(closest('prot', keys)).toBe('port');
    expect(closest('persistance', keys)).toBe('persistence');
  });

  it('ignores case and the - / _ convention', () => {
    expect(closest('realServers', keys)).toBe('real_servers');
    expect(closest('real-servers', keys)).toBe('real_servers');
  });

  it('makes no guess when nothing is close', () => {
    expect(closest('weight', keys)).toBeNull();
    expect(closest('xyz', keys)).toBeNull();
  });
});
