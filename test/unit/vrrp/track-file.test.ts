/**
 * Track files as keepalived reads them (keepalived/trackers/track_file.c process_track_file:
 * strtol(buf, NULL, 0) of the first 127 bytes, refused outside [INT32_MIN, INT32_MAX + 1]) and
 * what a value does to a tracking instance (update_track_file_status and
 * process_update_vrrp_track_file_status: weight 0 → non-zero is FAULT, reverse flips it;
 * otherwise value × weight × (reverse ? −1 : 1) clamped to [−254, 253], −254 is FAULT), and
 * the tracker arithmetic for weighted interfaces (vrrp_track.c
 * initialise_interface_tracking_priorities).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTrackFileValue } from '../../../src/model/track-file.js';
import { readTrackFile } from '../../../src/sys/track-file.js';
import { initTrackFile, TRACK_FILE_FAULT, trackFileStatus } from '../../../src/vrrp/track-file.js';
import { trackEffect } from '../../../src/vrrp/tracking.js';

describe('strtol(text, NULL, 0), as the one track file parser reads it', () => {
  it.each([
    ['42', 42],
    ['  -17\n', -17],
    ['+8', 8],
    ['0x1F', 31],
    ['0X10z', 16],
    ['010', 8],
    ['08', 0],
    ['0x', 0],
    ['abc', 0],
    ['12abc', 12],
    ['', 0],
  ])('%j → %d', (text, value) => {
    expect(parseTrackFileValue(text)).toBe(value);
  });
});

describe('a track file value', () => {
  it('empty is 0; outside [-2^31, 2^31] is refused; 2^31 itself is taken', () => {
    expect(parseTrackFileValue('')).toBe(0);
    expect(parseTrackFileValue('2147483648')).toBe(2147483648);
    expect(parseTrackFileValue('2147483649')).toBeNull();
    expect(parseTrackFileValue('-2147483649')).toBeNull();
  });

  it.each([
    // value, weight, reverse, status
    [0, 0, false, 0],
    [3, 0, false, TRACK_FILE_FAULT],
    [0, 0, true, TRACK_FILE_FAULT],
    [3, 0, true, 0],
    [2, -60, false, -120],
    [5, -60, false, TRACK_FILE_FAULT],
    [2, 10, true, -20],
    [100, 10, false, 253],
    [-1, 1, false, -1],
  ])('value %d, weight %d, reverse %s → status %d', (value, weight, reverse, status) => {
    expect(trackFileStatus(value, weight, reverse)).toBe(status);
  });
});

describe('track file I/O', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipvsd-tf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing file reads as 0; init_file writes only a missing file unless overwrite', () => {
    const path = join(dir, 'f');
    expect(readTrackFile(path)).toEqual({ kind: 'value', value: 0 });
    const source = { line: 1, col: 1 };
    expect(
      initTrackFile({
        name: 'f',
        path,
        weight: 1,
        reverse: false,
        init: { value: 7, overwrite: false },
        source,
      }),
    ).toBeUndefined();
    expect(readTrackFile(path)).toEqual({ kind: 'value', value: 7 });
    writeFileSync(path, '3\n');
    initTrackFile({
      name: 'f',
      path,
      weight: 1,
      reverse: false,
      init: { value: 7, overwrite: false },
      source,
    });
    expect(readTrackFile(path)).toEqual({ kind: 'value', value: 3 });
    initTrackFile({
      name: 'f',
      path,
      weight: 1,
      reverse: false,
      init: { value: -4, overwrite: true },
      source,
    });
    expect(readTrackFile(path)).toEqual({ kind: 'value', value: -4 });
  });
});

describe('tracker arithmetic for weighted interfaces and files', () => {
  it.each([
    // up, weight, reverse → faults, weight
    [false, 0, false, ['interface eth1'], 0],
    [true, 0, false, [], 0],
    [true, 0, true, ['interface eth1'], 0],
    [false, -20, false, [], -20],
    [true, -20, false, [], 0],
    [true, 15, false, [], 15],
    [false, 15, false, [], 0],
    [true, 15, true, [], -15],
  ])('eth1 up=%s weight %d reverse %s', (up, weight, reverse, faults, total) => {
    expect(trackEffect([{ kind: 'interface', name: 'eth1', up, weight, reverse }])).toEqual({
      faults,
      weight: total,
    });
  });

  it('a file status adds to the weight; −254 is a fault', () => {
    expect(
      trackEffect([
        { kind: 'file', name: 'a', status: -120 },
        { kind: 'file', name: 'b', status: TRACK_FILE_FAULT },
        { kind: 'interface', name: 'eth1', up: false, weight: -10 },
      ]),
    ).toEqual({ faults: ['file b'], weight: -130 });
  });
});
