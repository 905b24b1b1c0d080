/**
 * The takeover's timeline from a packet capture on the client's switch port (tcpdump in the
 * switch namespace, frames the directors sent to the client): kernel timestamps taken as each
 * frame left the bridge, so a starved process (the VM runs under TCG on a shared host) cannot blur
 * them the way reading a log line late would. Pure: pcap bytes in, times out.
 *
 * The old master's death is the last frame it sent (with requests every 20 ms and adverts every
 * interval, that is within ~20 ms of its ports being cut); the takeover is then seen as the new
 * master's first advert, its first gratuitous ARP for the VIP, and its first HTTP 200 to the client.
 * The old master's last advert is kept too: the backup's master-down timer runs from it, and where it
 * falls before the death is chance (anywhere in the last advert interval, up to 1 s at VRRPv2/1 s),
 * so the time from it to the first answer compares two daemons without that chance in it.
 */

export interface Frame {
  /** µs since the epoch (pcap timestamp) */
  readonly us: number;
  readonly src: string;
  readonly kind: 'vrrp' | 'arp' | 'http200' | 'other';
  /** for ARP: the sender protocol address */
  readonly arpSender?: string;
}

export interface Timeline {
  /** every time in ms after `deathUs` */
  readonly deathUs: number;
  /** the old master's last advert (≤ 0) */
  readonly lastAdvertMs: number | null;
  readonly firstAdvertMs: number | null;
  readonly firstGarpMs: number | null;
  readonly firstAnswerMs: number | null;
}

const mac = (b: Uint8Array, o: number) =>
  Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

/** Ethernet frames of a pcap file (microsecond or nanosecond timestamps, either byte order). */
export function parsePcap(buf: Buffer): Frame[] {
  if (buf.length < 24) return [];
  const magicLe = buf.readUInt32LE(0);
  const le = magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d;
  const nano = magicLe === 0xa1b23c4d || buf.readUInt32BE(0) === 0xa1b23c4d;
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const frames: Frame[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const us = u32(off) * 1e6 + (nano ? Math.floor(u32(off + 4) / 1000) : u32(off + 4));
    const incl = u32(off + 8);
    const data = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    if (data.length < 14) continue;
    const src = mac(data, 6);
    const type = data.readUInt16BE(12);
    if (type === 0x0806 && data.length >= 14 + 18) {
      const sender = Array.from(data.subarray(14 + 14, 14 + 18)).join('.');
      frames.push({ us, src, kind: 'arp', arpSender: sender });
      continue;
    }
    if (type !== 0x0800 || data.length < 34) {
      frames.push({ us, src, kind: 'other' });
      continue;
    }
    const ihl = ((data[14] as number) & 0x0f) * 4;
    const proto = data[14 + 9];
    if (proto === 112) {
      frames.push({ us, src, kind: 'vrrp' });
      continue;
    }
    if (proto === 6) {
      const tcp = 14 + ihl;
      const doff = (((data[tcp + 12] as number) >> 4) & 0x0f) * 4;
      const payload = data.subarray(tcp + doff, tcp + doff + 12).toString('latin1');
      frames.push({ us, src, kind: payload.startsWith('HTTP/1.1 200') ? 'http200' : 'other' });
      continue;
    }
    frames.push({ us, src, kind: 'other' });
  }
  return frames;
}

/** The takeover from `oldMac` to `newMac` (the VIP's announcements name `vip`). */
export function takeoverTimeline(
  frames: readonly Frame[],
  oldMac: string,
  newMac: string,
  vip: string,
): Timeline | null {
  const fromOld = frames.filter((f) => f.src === oldMac);
  const last = fromOld[fromOld.length - 1];
  if (last === undefined) return null;
  const deathUs = last.us;
  const after = frames.filter((f) => f.src === newMac && f.us > deathUs);
  const ms = (f: Frame | undefined) => (f === undefined ? null : Math.round((f.us - deathUs) / 100) / 10);
  const lastAdvert = fromOld.filter((f) => f.kind === 'vrrp').at(-1);
  return {
    deathUs,
    lastAdvertMs: ms(lastAdvert),
    firstAdvertMs: ms(after.find((f) => f.kind === 'vrrp')),
    firstGarpMs: ms(after.find((f) => f.kind === 'arp' && f.arpSender === vip)),
    firstAnswerMs: ms(after.find((f) => f.kind === 'http200')),
  };
}
