/**
 * The RTM_NEWADDR payload of sys/address-batch.ts, byte by byte (the kernel's acceptance and
 * effect are checked in test/netns/rtnetlink.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { newAddressPayload } from '../../../src/sys/address-batch.js';

const hex = (b: Buffer) => b.toString('hex');

describe('newAddressPayload', () => {
  it('IPv4 /24: ifaddrmsg, IFA_LOCAL, IFA_ADDRESS and the broadcast address', () => {
    const p = newAddressPayload(7, '203.0.113.100/24');
    // family AF_INET, prefix 24, flags 0, scope universe, ifindex 7 (host order)
    expect(hex(p.subarray(0, 8))).toBe('0218000007000000');
    expect(hex(p.subarray(8))).toBe(
      // len 8, IFA_LOCAL | len 8, IFA_ADDRESS | len 8, IFA_BROADCAST 203.0.113.255
      ['08000200cb007164', '08000100cb007164', '08000400cb0071ff'].join(''),
    );
  });

  it('IPv4 /32 has no broadcast address', () => {
    const p = newAddressPayload(2, '192.0.2.1/32');
    expect(p.length).toBe(8 + 8 + 8);
    expect(p[1]).toBe(32);
  });

  it('IPv6: IFA_F_NODAD in the header and in IFA_FLAGS', () => {
    const p = newAddressPayload(3, '2001:db8::20/64');
    expect(hex(p.subarray(0, 8))).toBe('0a40020003000000');
    const local = `1400020020010db8${'0'.repeat(22)}20`;
    expect(hex(p.subarray(8, 28))).toBe(local);
    expect(hex(p.subarray(28, 48))).toBe(`14000100${local.slice(8)}`);
    expect(hex(p.subarray(48))).toBe('0800080002000000');
  });

  it('refuses a malformed address before anything is sent', () => {
    expect(() => newAddressPayload(2, '192.0.2.256/24')).toThrow(/invalid IP address/);
  });
});
