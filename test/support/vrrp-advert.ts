/**
 * A peer's VRRP advert as the bytes on the wire, for the tests that inject or send one (unit fakes
 * and netns raw sockets alike): one call to the codec instead of a copy of it per test file.
 */
import { encodeAdvert } from '../../src/vrrp/codec.js';
import type { VrrpAdvert } from '../../src/vrrp/packet.js';

/**
 * A valid unauthenticated advert from `srcAddress` to 224.0.0.18; throws when the codec refuses
 * the fields.
 */
export function advertBytes(
  srcAddress: string,
  fields: Pick<VrrpAdvert, 'version' | 'vrid' | 'priority' | 'advertIntervalCs' | 'addresses'>,
): Uint8Array {
  const r = encodeAdvert(
    { ...fields, authType: 'none', password: '' },
    { srcAddress, dstAddress: '224.0.0.18' },
  );
  if (!r.ok) throw new Error(r.detail);
  return r.bytes;
}
