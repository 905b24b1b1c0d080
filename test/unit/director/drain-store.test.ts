import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDrainStore, DRAIN_FILE, parseDrainFile } from '../../../src/director/drain-store.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ipvsd-drains-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const WEB_12 = { virtual_server: 'web', real_server: '198.51.100.12:8080' };
const V6 = { virtual_server: 'api v6', real_server: '[2001:db8::1]:80' };

describe('drain store', () => {
  it('saves to DIR/drains.json (created 0700, file 0600) and loads it back', async () => {
    const dir = join(tempDir(), 'state');
    const store = createDrainStore(dir);
    expect(await store.load()).toEqual([]);
    await store.save([WEB_12, V6]);
    expect(store.file).toBe(join(dir, DRAIN_FILE));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, DRAIN_FILE)).mode & 0o777).toBe(0o600);
    expect(await createDrainStore(dir).load()).toEqual([V6, WEB_12]);
    expect(JSON.parse(readFileSync(join(dir, DRAIN_FILE), 'utf8'))).toEqual({
      version: 1,
      drained: [V6, WEB_12],
    });
    await store.save([]);
    expect(await store.load()).toEqual([]);
    // Written through a temporary file renamed into place: nothing else is left in the directory.
    expect(readdirSync(dir)).toEqual([DRAIN_FILE]);
  });

  it('names the file and the problem when it is damaged or cannot be written', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, DRAIN_FILE), '{"drained": [');
    await expect(createDrainStore(dir).load()).rejects.toThrow(`${join(dir, DRAIN_FILE)}: not JSON (`);
    const blocked = join(tempDir(), 'file-not-dir');
    writeFileSync(blocked, '');
    await expect(createDrainStore(blocked).save([WEB_12])).rejects.toThrow(
      `${join(blocked, DRAIN_FILE)}: cannot save: EEXIST`,
    );
    const readOnly = tempDir();
    chmodSync(readOnly, 0o500);
    // root ignores directory permissions; the EEXIST case above covers a failed save for it.
    if (process.getuid?.() !== 0)
      await expect(createDrainStore(readOnly).save([WEB_12])).rejects.toThrow('cannot save: EACCES');
  });

  it('checks the shape of what it reads', () => {
    expect(parseDrainFile('{"version":1,"drained":[]}')).toEqual([]);
    expect(() => parseDrainFile('[]')).toThrow('no "drained" list');
    expect(() => parseDrainFile('null')).toThrow('no "drained" list');
    expect(() => parseDrainFile('{"drained":[{"virtual_server":"web"}]}')).toThrow(
      'drained[0] needs "virtual_server" and "real_server" strings',
    );
    expect(() => parseDrainFile('{"drained":[null]}')).toThrow('drained[0] needs');
  });

  it('without a directory keeps nothing', async () => {
    const store = createDrainStore(null);
    expect(store.file).toBeNull();
    await store.save([WEB_12]);
    expect(await store.load()).toEqual([]);
  });
});
