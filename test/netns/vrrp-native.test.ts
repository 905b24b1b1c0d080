/**
 * The addon's VRRP socket and announcement functions, as far as they run without privileges and
 * without a network of their own: every argument mistake is a TypeError and every refusal an
 * errno-bearing Error — never a crash. Interface lookups come before any socket is opened, so an
 * unknown interface is ENODEV for everyone. Needs the addon that `npm ci` builds.
 */
import { describe, expect, it } from 'vitest';
import { isNativeErrnoError, loadNative } from '../../src/sys/native.js';

type Loose = (...args: unknown[]) => unknown;
const addon = loadNative();
const VrrpSocket = addon.VrrpSocket as unknown as new (...args: unknown[]) => unknown;
const noop = () => {};

describe('native VrrpSocket arguments', () => {
  it('is exported next to sdNotify', () => {
    expect(typeof addon.VrrpSocket).toBe('function');
    expect(typeof addon.sendGratuitousArp).toBe('function');
    expect(typeof addon.sendUnsolicitedNa).toBe('function');
    expect(typeof addon.sdNotify).toBe('function');
  });

  it.each<[string, unknown[]]>([
    ['no arguments', []],
    ['no callbacks', [{ family: 4, ifname: 'lo', hopLimit: 255 }]],
    ['a non-function onError', [{ family: 4, ifname: 'lo', hopLimit: 255 }, noop, 1]],
    ['family 5', [{ family: 5, ifname: 'lo', hopLimit: 255 }, noop, noop]],
    ['a string family', [{ family: '4', ifname: 'lo', hopLimit: 255 }, noop, noop]],
    ['hop limit 0', [{ family: 4, ifname: 'lo', hopLimit: 0 }, noop, noop]],
    ['hop limit 256', [{ family: 6, ifname: 'lo', hopLimit: 256 }, noop, noop]],
    ['hop limit 1.5', [{ family: 6, ifname: 'lo', hopLimit: 1.5 }, noop, noop]],
    ['a numeric ifname', [{ family: 4, ifname: 1, hopLimit: 255 }, noop, noop]],
  ])('throws a TypeError for %s', (_, args) => {
    expect(() => new VrrpSocket(...args)).toThrow(TypeError);
  });

  it('cannot be called without new', () => {
    expect(() =>
      (VrrpSocket as unknown as Loose)({ family: 4, ifname: 'lo', hopLimit: 255 }, noop, noop),
    ).toThrow(TypeError);
  });

  it.each([
    ['an unknown interface', 'ipvsd-none0'],
    ['an over-long name', 'x'.repeat(16)],
    ['an empty name', ''],
  ])('fails with ENODEV for %s', (_, ifname) => {
    let error: unknown;
    try {
      new VrrpSocket({ family: 4, ifname, hopLimit: 255 }, noop, noop);
    } catch (e) {
      error = e;
    }
    expect(isNativeErrnoError(error)).toBe(true);
    expect(error).toMatchObject({ errno: 19, code: 'ENODEV' });
  });
});

describe('native announcements arguments', () => {
  const arp = addon.sendGratuitousArp as unknown as Loose;
  const na = addon.sendUnsolicitedNa as unknown as Loose;

  it('throws TypeErrors for wrong types and for addresses of the wrong family', () => {
    expect(() => arp('lo')).toThrow(TypeError);
    expect(() => arp(1, '203.0.113.100')).toThrow(TypeError);
    expect(() => arp('lo', '2001:db8::1')).toThrow(/not an IPv4 address/);
    expect(() => na('lo', '2001:db8::1')).toThrow(TypeError);
    expect(() => na('lo', '2001:db8::1', 'yes')).toThrow(TypeError);
    expect(() => na('lo', '203.0.113.100', false)).toThrow(/not an IPv6 address/);
    expect(() => na('lo', '2001:db8::1', false, 7)).toThrow(TypeError);
    expect(() => na('lo', '2001:db8::1', false, 'eth0')).toThrow(/source eth0 is not an IPv6 address/);
  });

  it('fails with ENODEV for an unknown interface and ENOTSUP for a link without Ethernet addresses', () => {
    expect(() => arp('ipvsd-none0', '203.0.113.100')).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    expect(() => na('ipvsd-none0', '2001:db8::1', false)).toThrow(
      expect.objectContaining({ code: 'ENODEV' }),
    );
    expect(() => arp('lo', '203.0.113.100')).toThrow(
      expect.objectContaining({ code: 'ENOTSUP', errno: 95, syscall: 'ioctl' }),
    );
  });
});
