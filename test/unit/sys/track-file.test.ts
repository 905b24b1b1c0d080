/** Reading a track file as keepalived's process_track_file does (trackers/track_file.c). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTrackFile } from '../../../src/sys/track-file.js';

const dir = mkdtempSync(join(tmpdir(), 'ipvsd-track-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readTrackFile', () => {
  it('reads the number; a missing, empty or unreadable file is 0', async () => {
    writeFileSync(join(dir, 'a'), ' 42\n');
    writeFileSync(join(dir, 'empty'), '');
    expect(readTrackFile(join(dir, 'a'))).toEqual({ kind: 'value', value: 42 });
    expect(readTrackFile(join(dir, 'empty'))).toEqual({ kind: 'value', value: 0 });
    expect(readTrackFile(join(dir, 'missing'))).toEqual({ kind: 'value', value: 0 });
    expect(readTrackFile(dir)).toEqual({ kind: 'value', value: 0 }); // a directory: read() fails
  });

  it('reads only the first 127 bytes (char buf[128])', async () => {
    writeFileSync(join(dir, 'long'), `${' '.repeat(126)}7${'9'.repeat(50)}`);
    expect(readTrackFile(join(dir, 'long'))).toEqual({ kind: 'value', value: 7 });
  });

  it('an out-of-range number is ignored, not read as a value', async () => {
    writeFileSync(join(dir, 'big'), '99999999999\n');
    expect(readTrackFile(join(dir, 'big'))).toEqual({ kind: 'ignored', text: '99999999999' });
  });
});
