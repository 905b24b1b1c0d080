import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createWithdrawStore,
  parseWithdrawFile,
  WITHDRAW_FILE,
} from '../../../src/director/withdraw-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('withdraw store', () => {
  it('saves DIR/withdrawn.json and loads it back, addresses canonical and sorted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipvsd-withdrawn-'));
    dirs.push(dir);
    const store = createWithdrawStore(dir);
    expect(await store.load()).toEqual({ all: false, addresses: [] });
    await store.save({ all: true, addresses: ['203.0.113.101', '203.0.113.100'] });
    expect(JSON.parse(readFileSync(join(dir, WITHDRAW_FILE), 'utf8'))).toEqual({
      version: 1,
      all: true,
      addresses: ['203.0.113.100', '203.0.113.101'],
    });
    writeFileSync(join(dir, WITHDRAW_FILE), '{"all":false,"addresses":["2001:DB8::0:1"]}');
    expect(await store.load()).toEqual({ all: false, addresses: ['2001:db8::1'] });
    writeFileSync(join(dir, WITHDRAW_FILE), '{"all":false,"addresses":["eth0"]}');
    await expect(store.load()).rejects.toThrow(
      `${join(dir, WITHDRAW_FILE)}: addresses[0] is not an IP address`,
    );
  });

  it('without a state directory keeps nothing', async () => {
    const store = createWithdrawStore(null);
    expect(store.file).toBeNull();
    await store.save({ all: true, addresses: [] });
    expect(await store.load()).toEqual({ all: false, addresses: [] });
  });

  it.each([
    ['nope', /^not JSON/],
    ['{"addresses":[]}', 'no boolean "all"'],
    ['{"all":true}', 'no "addresses" list'],
  ])('refuses %s', (text, message) => {
    expect(() => parseWithdrawFile(text)).toThrow(message);
  });
});
