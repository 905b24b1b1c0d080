/**
 * src/sys/garp.ts over a fake addon: family checks and canonical addresses before the addon is
 * called, and every failure returned as a value. The real packets are checked against a peer's
 * neighbour table in test/netns/vrrp-socket.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { announceAddress, sendGratuitousArp, sendUnsolicitedNa } from '../../../src/sys/garp.js';

function fakeNative(failWith?: unknown) {
  const calls: unknown[][] = [];
  return {
    calls,
    native: {
      sendGratuitousArp(...args: unknown[]) {
        calls.push(['arp', ...args]);
        if (failWith !== undefined) throw failWith;
      },
      sendUnsolicitedNa(...args: unknown[]) {
        calls.push(['na', ...args]);
        if (failWith !== undefined) throw failWith;
      },
    },
  };
}

describe('address announcements', () => {
  it('sends a gratuitous ARP for an IPv4 address', () => {
    const fake = fakeNative();
    expect(sendGratuitousArp('eth0', '203.0.113.100', fake)).toBeUndefined();
    expect(fake.calls).toEqual([['arp', 'eth0', '203.0.113.100']]);
  });

  it('sends an unsolicited NA with canonical addresses, Router off unless asked', () => {
    const fake = fakeNative();
    expect(sendUnsolicitedNa('eth0', '2001:DB8:0::100', {}, fake)).toBeUndefined();
    expect(
      sendUnsolicitedNa('eth0', '2001:db8::100', { router: true, source: 'FE80::1' }, fake),
    ).toBeUndefined();
    expect(fake.calls).toEqual([
      ['na', 'eth0', '2001:db8::100', false, undefined],
      ['na', 'eth0', '2001:db8::100', true, 'fe80::1'],
    ]);
  });

  it('announceAddress picks by family', () => {
    const fake = fakeNative();
    announceAddress('eth0', '203.0.113.100', { router: true }, fake);
    announceAddress('eth1', '2001:db8::100', { router: true }, fake);
    expect(fake.calls).toEqual([
      ['arp', 'eth0', '203.0.113.100'],
      ['na', 'eth1', '2001:db8::100', true, undefined],
    ]);
  });

  it('returns IPVSD_ERR_USAGE for addresses of the wrong family, without calling the addon', () => {
    const fake = fakeNative();
    expect(sendGratuitousArp('eth0', '2001:db8::1', fake)).toMatchObject({ code: 'IPVSD_ERR_USAGE' });
    expect(sendGratuitousArp('eth0', '203.0.113.100/24', fake)).toMatchObject({ code: 'IPVSD_ERR_USAGE' });
    expect(sendUnsolicitedNa('eth0', '203.0.113.100', {}, fake)).toMatchObject({ code: 'IPVSD_ERR_USAGE' });
    expect(sendUnsolicitedNa('eth0', '2001:db8::1', { source: '203.0.113.2' }, fake)).toMatchObject({
      code: 'IPVSD_ERR_USAGE',
    });
    expect(announceAddress('eth0', 'nonsense', {}, fake)).toMatchObject({ code: 'IPVSD_ERR_USAGE' });
    expect(fake.calls).toEqual([]);
  });

  it('returns the addon’s errors as values', () => {
    const error = Object.assign(new Error('sendmsg ENETDOWN'), { errno: 100, code: 'ENETDOWN' });
    expect(sendGratuitousArp('eth0', '203.0.113.100', fakeNative(error))).toBe(error);
    expect(sendUnsolicitedNa('eth0', '2001:db8::1', {}, fakeNative(error))).toBe(error);
    expect(sendGratuitousArp('eth0', '203.0.113.100', fakeNative('weird'))).toMatchObject({
      code: 'IPVSD_ERR_INTERNAL',
    });
  });
});
