import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/config/durations.js';

describe('parseDuration', () => {
  it.each([
    ['1s', 1000],
    ['500ms', 500],
    ['0.1s', 100],
    ['0.7s', 700],
    ['.5s', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['2', 2000],
    [' 3s ', 3000],
    ['0s', 0],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each([
    [2, 2000],
    [0.25, 250],
    [0, 0],
    [900, 900_000],
  ])('reads the number %d as seconds', (seconds, ms) => {
    expect(parseDuration(seconds)).toEqual({ ok: true, ms });
  });

  it.each([
    ['10x', 'syntax'],
    ['', 'syntax'],
    ['s', 'syntax'],
    ['1 s', 'syntax'],
    ['1.s', 'syntax'],
    ['-1s', 'negative'],
    ['0.0001s', 'sub-millisecond'],
    ['1.5ms', 'sub-millisecond'],
  ])('refuses %j (%s)', (text, reason) => {
    expect(parseDuration(text)).toEqual({ ok: false, reason });
  });

  it('refuses negative and non-finite numbers', () => {
    expect(parseDuration(-1)).toEqual({ ok: false, reason: 'negative' });
    expect(parseDuration(Number.POSITIVE_INFINITY)).toEqual({ ok: false, reason: 'syntax' });
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [1500, '1500ms'],
    [2000, '2s'],
    [120_000, '2m'],
    [7_200_000, '2h'],
  ])('writes %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
