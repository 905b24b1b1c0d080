/**
 * The pure parts of src/sys/child-process.ts: reading /proc/PID/stat (a command name may hold
 * spaces and parentheses) and the run id in /proc/PID/environ.
 */
import { describe, expect, it } from 'vitest';
import { parseStat, runIdOf } from '../../../src/sys/child-process.js';

describe('parseStat', () => {
  it('reads state, ppid, group, session and start time after the last parenthesis', () => {
    const line =
      '4242 (evil) name (x) S 17 4242 4240 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 200';
    expect(parseStat(line)).toEqual({
      pid: 4242,
      state: 'S',
      ppid: 17,
      pgrp: 4242,
      session: 4240,
      startTicks: 987654,
    });
  });

  it('refuses a truncated line', () => {
    expect(parseStat('12 (sh) S 1 12')).toBeNull();
    expect(parseStat('garbage')).toBeNull();
  });
});

describe('runIdOf', () => {
  it('finds IPVSD_SCRIPT_RUN among NUL-separated entries, null without it', () => {
    expect(runIdOf('PATH=/bin\0IPVSD_SCRIPT_RUN=77.3\0HOME=/\0')).toBe('77.3');
    expect(runIdOf('PATH=/bin\0XIPVSD_SCRIPT_RUN=1.1\0')).toBeNull();
    expect(runIdOf('')).toBeNull();
  });
});
