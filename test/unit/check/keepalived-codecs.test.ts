/**
 * The pure parts of the dns, udp, ping, smtp and file checks, against keepalived's source
 * (acassen/keepalived, the files and functions named in each test).
 */
import { describe, expect, it } from 'vitest';
import { dnsNameProblem, encodeDnsQuery, judgeDnsReply, rcodeName } from '../../../src/check/dns-message.js';
import {
  decodeEchoReply,
  decodeUdpUnreachable,
  encodeEchoRequest,
  internetChecksum,
  unreachableReason,
} from '../../../src/check/icmp-message.js';
import { SmtpLineReader, smtpReplyCode } from '../../../src/check/smtp-reply.js';
import {
  formatHexBytes,
  readHexString,
  UDP_DEFAULT_PAYLOAD,
  udpReplyProblem,
} from '../../../src/check/udp-payload.js';
import {
  fileCheckVerdict,
  parseTrackFileValue,
  TRACK_FILE_FAULT,
  trackFileStatus,
} from '../../../src/model/track-file.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('DNS query (check_dns.c dns_make_query)', () => {
  it('root name: header with RD and one question, a single zero byte, QTYPE, class IN', () => {
    expect(hex(encodeDnsQuery(0x1234, '.', 6))).toBe('123401000001000000000000' + '00' + '0006' + '0001');
    // DNS_DEFAULT_NAME is "": the same root question.
    expect(hex(encodeDnsQuery(0x1234, '', 6))).toBe(hex(encodeDnsQuery(0x1234, '.', 6)));
  });

  it('labels, with or without the trailing dot', () => {
    const q = encodeDnsQuery(1, 'www.example.com', 28);
    expect(hex(q.subarray(12))).toBe('03777777076578616d706c6503636f6d00' + '001c0001');
    expect(hex(encodeDnsQuery(1, 'www.example.com.', 28))).toBe(hex(q));
  });

  it('names with empty labels are refused (dns_name_handler), so are over-long ones', () => {
    expect(dnsNameProblem('.')).toBeNull();
    expect(dnsNameProblem('a.b.')).toBeNull();
    expect(dnsNameProblem('.a')).toBe('has an empty label');
    expect(dnsNameProblem('a..b')).toBe('has an empty label');
    expect(dnsNameProblem(`${'a'.repeat(64)}.com`)).toMatch(/label longer than 63/);
    expect(dnsNameProblem(`${'abcdefgh.'.repeat(30)}com`)).toMatch(/longer than 253/);
  });
});

describe('DNS reply verdict (check_dns.c dns_recv_thread)', () => {
  const reply = (id: number, flags: number, extra = 0) => {
    const b = Buffer.alloc(12 + extra);
    b.writeUInt16BE(id, 0);
    b.writeUInt16BE(flags, 2);
    return b;
  };

  it('a response with the ID: RCODE 0 passes, any other RCODE fails', () => {
    expect(judgeDnsReply(reply(7, 0x8180), 7)).toEqual({ kind: 'answer', rcode: 0 });
    expect(judgeDnsReply(reply(7, 0x8183), 7)).toEqual({ kind: 'answer', rcode: 3 });
    expect(rcodeName(3)).toBe('NXDOMAIN');
    expect(rcodeName(15)).toBe('RCODE 15');
  });

  it('short datagrams, other IDs and queries are skipped, not failures', () => {
    expect(judgeDnsReply(reply(7, 0x8180).subarray(0, 11), 7)).toEqual({ kind: 'skip', why: 'short' });
    expect(judgeDnsReply(new Uint8Array(0), 7)).toEqual({ kind: 'skip', why: 'short' });
    expect(judgeDnsReply(reply(8, 0x8180), 7)).toEqual({ kind: 'skip', why: 'id' });
    expect(judgeDnsReply(reply(7, 0x0100), 7)).toEqual({ kind: 'skip', why: 'query' });
  });
});

describe('SMTP replies (check_smtp.c smtp_get_status, smtp_get_line_cb)', () => {
  it('the code is three digits followed by a space or the end of the line', () => {
    expect(smtpReplyCode('220 mail.example ESMTP\r')).toBe(220);
    expect(smtpReplyCode('250')).toBe(250);
    // "220-" (multi-line), "220\r", "2200" and leading blanks are no code at all.
    expect(smtpReplyCode('220-first line')).toBe(-1);
    expect(smtpReplyCode('220\r')).toBe(-1);
    expect(smtpReplyCode('2200 x')).toBe(-1);
    expect(smtpReplyCode(' 220 x')).toBe(-1);
    expect(smtpReplyCode('abc')).toBe(-1);
    expect(smtpReplyCode('')).toBe(-1);
  });

  it('a line ends at the first newline; what follows it is dropped', () => {
    const r = new SmtpLineReader();
    expect(r.push(Buffer.from('220 a'))).toBeNull();
    expect(r.push(Buffer.from('b\r\n250 next\r\n'))).toBe('220 ab\r');
    expect(r.push(Buffer.from('x\n'))).toBe('x');
  });

  it('511 bytes without a newline empty the buffer and reading goes on (SMTP_BUFF_MAX)', () => {
    const r = new SmtpLineReader();
    expect(r.push(Buffer.alloc(1000, 0x41))).toBeNull();
    expect(r.overflows).toBe(1);
    expect(r.push(Buffer.from('\n'))).toBe('A'.repeat(1000 - 511));
  });
});

describe('UDP hex strings (lib/parser.c read_hex_str)', () => {
  it('the man page example: "Ab12f 3 456 546443123" is AB 12 0F 03 45 06 54 64 43 12 03', () => {
    const b = readHexString('Ab12f 3 456 546443123', false);
    expect(b && formatHexBytes(b)).toBe('AB 12 0F 03 45 06 54 64 43 12 03');
    expect(b?.mask).toBeNull();
  });

  it('x ignores a nibble only where wildcards are allowed (require_reply)', () => {
    const b = readHexString('1x X2', true);
    expect(b && [...b.data]).toEqual([0x10, 0x02]);
    expect(b?.mask && [...b.mask]).toEqual([0x0f, 0xf0]);
    expect(readHexString('1x', false)).toBeNull();
  });

  it('empty, non-hex and tab-split one-digit groups are invalid', () => {
    expect(readHexString('', false)).toBeNull();
    expect(readHexString('   ', false)).toBeNull();
    expect(readHexString('0g', false)).toBeNull();
    expect(readHexString('1\t2', false)).toBeNull();
  });

  it("the default payload is layer4.c set_buf's 32 bytes", () => {
    expect(UDP_DEFAULT_PAYLOAD.toString('latin1')).toBe('keepalived check - keepalived ch');
    expect(UDP_DEFAULT_PAYLOAD.length).toBe(32);
  });
});

describe('UDP replies (check_udp.c check_udp_reply)', () => {
  const rule = (data: string | null, min = 0, max = 255) => {
    const b = data === null ? null : readHexString(data, true);
    return {
      replyData: b?.data ?? null,
      replyMask: b?.mask ?? null,
      minReplyLength: min,
      maxReplyLength: max,
    };
  };
  const bytes = (h: string) => Buffer.from(h, 'hex');

  it('without reply data every reply passes, lengths unchecked', () => {
    expect(udpReplyProblem(bytes(''), 0, rule(null, 5, 6))).toBeNull();
  });

  it('compares up to the shorter of reply and data, masked nibbles aside', () => {
    expect(udpReplyProblem(bytes('0a1b'), 2, rule('0a 1x'))).toBeNull();
    expect(udpReplyProblem(bytes('0a'), 1, rule('0a 1b'))).toBeNull();
    expect(udpReplyProblem(bytes('0a2b'), 2, rule('0a 1x'))).toBe('reply differs at byte 1');
    expect(udpReplyProblem(bytes('0a1bff'), 3, rule('0a1b'))).toBeNull();
  });

  it('length outside [min, max] fails', () => {
    expect(udpReplyProblem(bytes('0a'), 1, rule('0a', 2, 4))).toBe('reply of 1 bytes, expected 2-4');
    expect(udpReplyProblem(bytes('0a0000000000'), 6, rule('0a', 0, 4))).toBe(
      'reply of 6 bytes, expected 0-4',
    );
  });
});

describe('track file values (trackers/track_file.c process_track_file: strtol(buf, NULL, 0))', () => {
  it.each([
    ['0', 0],
    ['1\n', 1],
    ['  -5 trailing', -5],
    ['0x10', 16],
    ['010', 8],
    ['08', 0],
    ['+7', 7],
    ['', 0],
    ['abc', 0],
    ['- 5', 0],
    ['2147483648', 2147483648],
    ['-2147483648', -2147483648],
  ])('%j reads as %d', (text, value) => {
    expect(parseTrackFileValue(text)).toBe(value);
  });

  it('values outside [INT32_MIN, INT32_MAX + 1] are ignored (null), as keepalived logs and ignores them', () => {
    expect(parseTrackFileValue('2147483649')).toBeNull();
    expect(parseTrackFileValue('-2147483649')).toBeNull();
    expect(parseTrackFileValue('99999999999999999999999')).toBeNull();
  });
});

describe('track file status (track_file.c update_track_file_status, process_update_checker_track_file_status)', () => {
  it('weight 0: non-zero fails, zero passes; reverse swaps them', () => {
    expect(fileCheckVerdict(0, { weight: 0, reverse: false })).toEqual({ ok: true, weightDelta: 0 });
    expect(fileCheckVerdict(3, { weight: 0, reverse: false })).toEqual({ ok: false, weightDelta: 0 });
    expect(fileCheckVerdict(0, { weight: 0, reverse: true })).toEqual({ ok: false, weightDelta: 0 });
    expect(fileCheckVerdict(-1, { weight: 0, reverse: true })).toEqual({ ok: true, weightDelta: 0 });
  });

  it('weight ≠ 0: value × weight (negated with reverse) is a weight change; only INT_MIN is a failure', () => {
    expect(fileCheckVerdict(5, { weight: 1, reverse: false })).toEqual({ ok: true, weightDelta: 5 });
    expect(fileCheckVerdict(5, { weight: 2, reverse: true })).toEqual({ ok: true, weightDelta: -10 });
    expect(fileCheckVerdict(-2147483648, { weight: 1, reverse: false }).ok).toBe(false);
    // weight_range() clamps the 64-bit product, so any product at or below INT_MIN fails.
    expect(trackFileStatus(-2000000000, { weight: 2, reverse: false })).toBe(TRACK_FILE_FAULT);
    expect(trackFileStatus(2000000000, { weight: 2, reverse: false })).toBe(2147483647);
  });
});

describe('ICMP echo (check_ping.c ping_it, recv_it)', () => {
  it('IPv4 request: type 8, id, seq, 128 bytes of filler, a checksum that verifies', () => {
    const m = encodeEchoRequest(4, 0xbeef, 7);
    expect(m.length).toBe(136);
    expect(m[0]).toBe(8);
    expect(m.readUInt16BE(4)).toBe(0xbeef);
    expect(m.readUInt16BE(6)).toBe(7);
    expect(m.subarray(8, 27).toString('latin1')).toBe('keepalived check - ');
    expect(internetChecksum(m)).toBe(0);
  });

  it('IPv6 request: type 128, checksum left to the kernel', () => {
    const m = encodeEchoRequest(6, 1, 2);
    expect(m[0]).toBe(128);
    expect(m.readUInt16BE(2)).toBe(0);
  });

  it('replies: the right type of the family with id and seq; short or other types are malformed', () => {
    const r = Buffer.from('0000ffff12340005', 'hex');
    expect(decodeEchoReply(4, r)).toEqual({ kind: 'reply', identifier: 0x1234, sequence: 5 });
    expect(decodeEchoReply(6, r)).toEqual({ kind: 'malformed' });
    expect(decodeEchoReply(6, Buffer.from('8100000012340005', 'hex'))).toEqual({
      kind: 'reply',
      identifier: 0x1234,
      sequence: 5,
    });
    expect(decodeEchoReply(4, r.subarray(0, 7))).toEqual({ kind: 'malformed' });
    expect(decodeEchoReply(4, Buffer.from('0800000012340005', 'hex'))).toEqual({ kind: 'malformed' });
    expect(decodeEchoReply(4, Buffer.from('0001000012340005', 'hex'))).toEqual({ kind: 'malformed' });
  });
});

describe('ICMP destination unreachable about a UDP datagram (layer4.c udp_socket_error)', () => {
  const v4 = (type: number, code: number, proto = 17, ihl = 5) => {
    const ip = Buffer.alloc(ihl * 4 + 8);
    ip[0] = 0x40 | ihl;
    ip[9] = proto;
    ip.set([192, 0, 2, 1], 12);
    ip.set([192, 0, 2, 202], 16);
    ip.writeUInt16BE(40000, ihl * 4);
    ip.writeUInt16BE(7007, ihl * 4 + 2);
    return Buffer.concat([Buffer.from([type, code, 0, 0, 0, 0, 0, 0]), ip]);
  };

  it('reads code and the quoted addresses and ports (IPv4, with and without IP options)', () => {
    const expected = {
      code: 1,
      source: '192.0.2.1',
      sourcePort: 40000,
      destination: '192.0.2.202',
      destinationPort: 7007,
    };
    expect(decodeUdpUnreachable(4, v4(3, 1))).toEqual(expected);
    expect(decodeUdpUnreachable(4, v4(3, 1, 17, 6))).toEqual(expected);
    expect(unreachableReason(4, 1)).toBe('host unreachable (ICMP)');
    expect(unreachableReason(4, 99)).toBe('destination unreachable, code 99 (ICMP)');
  });

  it('IPv6: reads the quoted IPv6 and UDP headers', () => {
    const ip = Buffer.alloc(48);
    ip[0] = 0x60;
    ip[6] = 17;
    ip[23] = 1; // ::1
    ip[39] = 1;
    ip.writeUInt16BE(5000, 40);
    ip.writeUInt16BE(53, 42);
    const m = Buffer.concat([Buffer.from([1, 4, 0, 0, 0, 0, 0, 0]), ip]);
    expect(decodeUdpUnreachable(6, m)).toEqual({
      code: 4,
      source: '::1',
      sourcePort: 5000,
      destination: '::1',
      destinationPort: 53,
    });
    expect(unreachableReason(6, 4)).toBe('port unreachable (ICMPv6)');
  });

  it('other types, other protocols and truncated quotes are not one (malformed: dropped)', () => {
    expect(decodeUdpUnreachable(4, v4(11, 0))).toBeNull();
    expect(decodeUdpUnreachable(4, v4(3, 1, 6))).toBeNull();
    expect(decodeUdpUnreachable(4, v4(3, 1).subarray(0, 30))).toBeNull();
    expect(decodeUdpUnreachable(4, new Uint8Array(4))).toBeNull();
    expect(decodeUdpUnreachable(6, v4(3, 1))).toBeNull();
  });
});
