import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpvsdError } from '../../../src/errors.js';
import { formatIp, ipv4Broadcast, parseCidr, parseIp } from '../../../src/sys/ip-address.js';

describe('parseIp / formatIp', () => {
  it.each([
    ['192.0.2.10', 'inet', '192.0.2.10', 'c000020a'],
    ['2001:db8::10', 'inet6', '2001:db8::10', '20010db8000000000000000000000010'],
    ['2001:DB8:0:0:0:0:0:10', 'inet6', '2001:db8::10', '20010db8000000000000000000000010'],
    ['2001:db8:0:0:1:0:0:1', 'inet6', '2001:db8::1:0:0:1', '20010db8000000000001000000000001'],
    ['2001:db8:0:1:1:1:1:1', 'inet6', '2001:db8:0:1:1:1:1:1', '20010db8000000010001000100010001'],
    ['::', 'inet6', '::', '00000000000000000000000000000000'],
    ['::1', 'inet6', '::1', '00000000000000000000000000000001'],
    ['fe80::', 'inet6', 'fe80::', 'fe800000000000000000000000000000'],
    ['::ffff:192.0.2.1', 'inet6', '::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
    ['64:ff9b::192.0.2.1', 'inet6', '64:ff9b::c000:201', '0064ff9b0000000000000000c0000201'],
  ])('%s', (text, family, canonical, hex) => {
    const parsed = parseIp(text);
    expect(parsed).not.toBeNull();
    expect(parsed?.family).toBe(family);
    expect(parsed?.address).toBe(canonical);
    expect(parsed?.bytes.toString('hex')).toBe(hex);
  });

  it.each([
    '',
    '192.0.2',
    '192.0.2.256',
    '2001:db8:::1',
    '1:2:3:4:5:6:7:8:9',
    'fe80::1%eth0',
    'eth0',
    '192.0.2.1/24',
  ])('refuses %j', (text) => {
    expect(parseIp(text)).toBeNull();
  });

  it('round-trips any 16 bytes through the canonical text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const text = formatIp(bytes);
        const back = parseIp(text);
        expect(back?.bytes.equals(Buffer.from(bytes))).toBe(true);
        expect(back?.address).toBe(text);
      }),
    );
  });

  it('shortens the leftmost of equally long zero runs and never a single zero group (RFC 5952 4.2)', () => {
    expect(formatIp(Buffer.from('20010db8000000000001000000000001', 'hex'))).toBe('2001:db8::1:0:0:1');
    expect(formatIp(Buffer.from('20010db8000000010001000100010001', 'hex'))).toBe('2001:db8:0:1:1:1:1:1');
  });
});

describe('parseCidr', () => {
  it('reads address and prefix length', () => {
    expect(parseCidr('192.0.2.10/24')).toMatchObject({
      family: 'inet',
      address: '192.0.2.10',
      prefixLength: 24,
      explicitPrefix: true,
    });
    expect(parseCidr('2001:DB8::10/64')).toMatchObject({
      family: 'inet6',
      address: '2001:db8::10',
      prefixLength: 64,
    });
  });

  it('defaults to a host prefix', () => {
    expect(parseCidr('203.0.113.100')).toMatchObject({ prefixLength: 32, explicitPrefix: false });
    expect(parseCidr('2001:db8::1')).toMatchObject({ prefixLength: 128, explicitPrefix: false });
  });

  it.each([
    '192.0.2.10/33',
    '2001:db8::1/129',
    '192.0.2.10/',
    '192.0.2.10/x',
    '192.0.2.10/-1',
    'nope/24',
    '',
  ])('refuses %j with a usage error', (text) => {
    expect(() => parseCidr(text)).toThrow(IpvsdError);
    try {
      parseCidr(text);
    } catch (err) {
      expect((err as IpvsdError).code).toBe('IPVSD_ERR_USAGE');
      expect((err as IpvsdError).message).toContain(JSON.stringify(text));
    }
  });
});

describe('ipv4Broadcast', () => {
  it.each([
    ['192.0.2.10', 24, '192.0.2.255'],
    ['198.51.100.5', 30, '198.51.100.7'],
    ['203.0.113.1', 0, '255.255.255.255'],
    ['203.0.113.1', 32, '203.0.113.1'],
  ])('%s/%d → %s', (address, prefix, broadcast) => {
    const parsed = parseIp(address);
    expect(parsed).not.toBeNull();
    expect(formatIp(ipv4Broadcast(parsed?.bytes ?? Buffer.alloc(4), prefix))).toBe(broadcast);
  });
});
