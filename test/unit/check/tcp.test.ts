/** The TCP check's verdict words (src/check/tcp.ts); the connect itself is tested in test/netns. */
import { describe, expect, it } from 'vitest';
import { tcpReason } from '../../../src/check/tcp.js';

describe('TCP check reasons', () => {
  it("names a connect, a timeout and errnos in an operator's words, with the code", () => {
    const check = { timeoutMs: 700 };
    expect(tcpReason(check, 0)).toBe('connected');
    expect(tcpReason(check, -1)).toBe('timeout after 700 ms');
    expect(tcpReason(check, 111)).toBe('connection refused (ECONNREFUSED)');
    expect(tcpReason(check, 113)).toBe('host unreachable (EHOSTUNREACH)');
    expect(tcpReason(check, 22)).toBe('invalid argument, blackhole route? (EINVAL)');
    expect(tcpReason(check, 99)).toBe('source address not available (EADDRNOTAVAIL)');
    expect(tcpReason(check, 4000)).toBe('unknown error (errno 4000)');
  });
});
