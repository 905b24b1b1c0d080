/**
 * The dns, udp, ping, smtp and file checks (keepalived's DNS_CHECK, UDP_CHECK, PING_CHECK,
 * SMTP_CHECK, FILE_CHECK) against real servers: the compiled probes run in a "director" namespace
 * (through the node agent) and talk over a veth to test/netns/fixtures/keepalived-check-servers.mjs
 * in a "servers" namespace, which logs what it received. Closed ports answer with a real ICMP port
 * unreachable; BLACKHOLE has a permanent neighbour entry with a MAC nobody owns, so what is sent
 * to it vanishes without any error and only the deadline ends the check. Each kind is shown up
 * and down; the verdict rules are keepalived's (cited per case).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeResult } from '../../src/check/result.js';
import {
  createNetnsLab,
  type NetnsLab,
  type NodeAgent,
  namespaceExists,
  type SpawnedProcess,
} from '../support/netns.js';
import { sleep } from '../support/wait.js';

const DIRECTOR = '192.0.2.1';
const SERVER = '192.0.2.2';
const BLACKHOLE = '192.0.2.99';
const ROUTE_UNREACHABLE = '192.0.2.201';
/** Routed through the servers namespace, which has an `unreachable` route for it: ICMP host unreachable. */
const REMOTE_UNREACHABLE = '192.0.2.202';
const DNS_PORT = 53;
const UDP_PORT = 7007;
const CLOSED_PORT = 7999;
const SMTP = { ok: 2525, badBanner: 2526, multiline: 2527, heloRejected: 2528, closeAfterBanner: 2529 };

const timing = {
  intervalMs: 1000,
  timeoutMs: 700,
  retry: 1,
  delayBeforeRetryMs: 0,
  rise: 1,
  warmupMs: 0,
  initialState: 'up' as const,
  source: { line: 1, col: 1 },
};

const dns = (over: object = {}) => ({
  type: 'dns',
  connectIp: SERVER,
  connectPort: DNS_PORT,
  bindIp: null,
  ...timing,
  queryType: 6,
  queryName: '.',
  ...over,
});
const udp = (over: object = {}) => ({
  type: 'udp',
  connectIp: SERVER,
  connectPort: UDP_PORT,
  bindIp: null,
  ...timing,
  payload: null,
  requireReply: false,
  replyData: null,
  replyMask: null,
  minReplyLength: 0,
  maxReplyLength: 255,
  ...over,
});
const ping = (over: object = {}) => ({ type: 'ping', connectIp: SERVER, bindIp: null, ...timing, ...over });
const smtp = (port: number, over: object = {}) => ({
  type: 'smtp',
  connectIp: SERVER,
  connectPort: port,
  bindIp: null,
  ...timing,
  heloName: 'smtpchecker.keepalived.org',
  ...over,
});

interface ServerEvent {
  event: string;
  name?: string;
  qtype?: number;
  rd?: boolean;
  hex?: string;
  port?: number;
  line?: string;
  remote?: string;
}

describe('keepalived checker kinds against real servers in a namespace', () => {
  let lab: NetnsLab;
  let director: string;
  let servers: string;
  let agent: NodeAgent;
  let serverProc: SpawnedProcess;
  let tmp: string;
  let made: string[] = [];

  const probe = (check: unknown) => agent.call<ProbeResult>('probe', check);
  const mark = () => serverProc.stdout().length;
  const events = (since: number): ServerEvent[] =>
    serverProc
      .stdout()
      .slice(since)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ServerEvent);
  /** The server's events since `since`, once one of `kind` has come through its stdout pipe. */
  async function eventsWith(since: number, kind: string): Promise<ServerEvent[]> {
    for (let waited = 0; waited < 3000; waited += 10) {
      const e = events(since);
      if (e.some((x) => x.event === kind)) return e;
      await sleep(10);
    }
    return events(since);
  }

  beforeAll(async () => {
    lab = createNetnsLab();
    director = await lab.namespace('director');
    servers = await lab.namespace('servers');
    made = lab.namespaces.slice();
    await lab.veth(
      { ns: director, ifname: 'eth0', cidr: `${DIRECTOR}/24` },
      { ns: servers, ifname: 'eth0', cidr: `${SERVER}/24` },
    );
    await lab.execOk(director, 'ip', ['route', 'add', 'unreachable', `${ROUTE_UNREACHABLE}/32`]);
    await lab.execOk(director, 'ip', ['route', 'add', `${REMOTE_UNREACHABLE}/32`, 'via', SERVER]);
    await lab.execOk(servers, 'ip', ['route', 'add', 'unreachable', `${REMOTE_UNREACHABLE}/32`]);
    await lab.execOk(servers, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await lab.execOk(director, 'ip', [
      'neigh',
      'add',
      BLACKHOLE,
      'lladdr',
      '02:00:00:00:00:99',
      'dev',
      'eth0',
      'nud',
      'permanent',
    ]);
    serverProc = lab.spawn(servers, process.execPath, [
      'test/netns/fixtures/keepalived-check-servers.mjs',
      JSON.stringify({
        host: SERVER,
        dns: DNS_PORT,
        udp: UDP_PORT,
        smtp: {
          [SMTP.ok]: 'ok',
          [SMTP.badBanner]: 'bad-banner',
          [SMTP.multiline]: 'multiline',
          [SMTP.heloRejected]: 'helo-rejected',
          [SMTP.closeAfterBanner]: 'close-after-banner',
        },
      }),
    ]);
    await serverProc.waitForOutput('"ready"');
    agent = await lab.nodeAgent(director, 'test/netns/drivers/check-kinds.mjs');
    tmp = mkdtempSync(join(tmpdir(), 'ipvsd-file-check-'));
  });

  afterAll(async () => {
    await lab?.cleanup();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    for (const name of made) expect(await namespaceExists(name), `namespace ${name} removed`).toBe(false);
  });

  describe('dns (check_dns.c)', () => {
    it('is up on a NOERROR answer to its SOA query for the root, sent with RD from the director', async () => {
      const since = mark();
      const r = await probe(dns());
      expect(r).toMatchObject({ ok: true, reason: 'NOERROR' });
      const seen = (await eventsWith(since, 'dns')).filter((e) => e.event === 'dns');
      expect(seen).toEqual([{ event: 'dns', name: '.', qtype: 6, rd: true, remote: DIRECTOR }]);
    });

    it('queries the configured type and name', async () => {
      const since = mark();
      expect((await probe(dns({ queryType: 28, queryName: 'www.example.test' }))).ok).toBe(true);
      const seen = (await eventsWith(since, 'dns')).find((e) => e.event === 'dns');
      expect(seen).toMatchObject({ name: 'www.example.test', qtype: 28 });
    });

    it('is down on an answer with another RCODE (dns_recv_thread: rcode != 0)', async () => {
      expect(await probe(dns({ queryName: 'refused.test' }))).toMatchObject({ ok: false, reason: 'REFUSED' });
    });

    it('skips a reply of another ID and a runt, and takes the answer after them', async () => {
      expect(await probe(dns({ queryName: 'stray.test' }))).toMatchObject({ ok: true, reason: 'NOERROR' });
    });

    it('is down when nothing answers before the deadline', async () => {
      const r = await probe(dns({ queryName: 'silent.test' }));
      expect(r).toMatchObject({ ok: false, reason: 'timeout after 700 ms' });
      expect(r.latencyMs).toBeGreaterThanOrEqual(690);
    });

    it('is down at once on a closed port (ICMP port unreachable)', async () => {
      const r = await probe(dns({ connectPort: CLOSED_PORT }));
      expect(r).toMatchObject({ ok: false, reason: 'connection refused (ECONNREFUSED)' });
      expect(r.latencyMs).toBeLessThan(500);
    });
  });

  describe('udp (check_udp.c, layer4.c udp_socket_state)', () => {
    it('sends the payload and is up on a matching reply', async () => {
      const since = mark();
      const r = await probe(
        udp({ payload: 'c0ffee01', requireReply: true, replyData: 'c0ff', replyMask: null }),
      );
      expect(r).toMatchObject({ ok: true, reason: 'reply of 4 bytes' });
      const seen = (await eventsWith(since, 'udp')).find((e) => e.event === 'udp');
      expect(seen).toMatchObject({ hex: 'c0ffee01', remote: DIRECTOR });
    });

    it("sends keepalived's 32-byte filler without a payload", async () => {
      const since = mark();
      expect((await probe(udp())).ok).toBe(true);
      const seen = (await eventsWith(since, 'udp')).find((e) => e.event === 'udp');
      expect(Buffer.from(seen?.hex ?? '', 'hex').toString('latin1')).toBe('keepalived check - keepalived ch');
    });

    it('masked nibbles are ignored; a mismatch is down', async () => {
      expect(
        (await probe(udp({ payload: 'c0ffee', requireReply: true, replyData: 'c00f', replyMask: '00f0' })))
          .ok,
      ).toBe(true);
      expect(await probe(udp({ payload: 'c0ffee', requireReply: true, replyData: 'c0fe' }))).toMatchObject({
        ok: false,
        reason: 'reply differs at byte 1',
      });
    });

    it('a reply longer than max_reply_length is down', async () => {
      expect(
        await probe(udp({ payload: 'c0ffee01', requireReply: true, replyData: 'c0', maxReplyLength: 3 })),
      ).toMatchObject({ ok: false, reason: 'reply of 4 bytes, expected 0-3' });
    });

    it('a closed port is down (ICMP port unreachable: ECONNREFUSED on the connected socket, or the ICMP itself)', async () => {
      const r = await probe(udp({ connectPort: CLOSED_PORT }));
      expect(r.ok).toBe(false);
      expect(r.reason).toMatch(/^(connection refused \(ECONNREFUSED\)|port unreachable \(ICMP\))$/);
      expect(r.latencyMs).toBeLessThan(500);
    });

    it('a host unreachable from a router is down at once, as keepalived with IP_RECVERR (layer4.c udp_socket_error)', async () => {
      const r = await probe(udp({ connectIp: REMOTE_UNREACHABLE }));
      expect(r).toMatchObject({ ok: false, reason: 'host unreachable (ICMP)' });
      expect(r.latencyMs).toBeLessThan(500);
    });

    it('silence passes without require_reply and fails with it (udp_socket_state: read timeout)', async () => {
      expect(await probe(udp({ connectIp: BLACKHOLE }))).toMatchObject({ ok: true, reason: 'no ICMP error' });
      expect(await probe(udp({ connectIp: BLACKHOLE, requireReply: true }))).toMatchObject({
        ok: false,
        reason: 'timeout after 700 ms (no reply)',
      });
    });
  });

  describe('ping (check_ping.c)', () => {
    it('is up when the address answers the echo', async () => {
      expect(await probe(ping())).toMatchObject({ ok: true, reason: 'echo reply' });
    });

    it('many echoes at once are told apart', async () => {
      const results = await Promise.all(
        [SERVER, BLACKHOLE, SERVER, DIRECTOR].map((ip) => probe(ping({ connectIp: ip }))),
      );
      expect(results.map((r) => r.ok)).toEqual([true, false, true, true]);
    });

    it('ICMPv6: is up when ::1 answers (the loopback of the namespace)', async () => {
      expect(await probe(ping({ connectIp: '::1' }))).toMatchObject({ ok: true, reason: 'echo reply' });
    });

    it('is down when nothing answers before the deadline', async () => {
      expect(await probe(ping({ connectIp: BLACKHOLE }))).toMatchObject({
        ok: false,
        reason: 'timeout after 700 ms (no echo reply)',
      });
    });

    it('is down at once on an unreachable route', async () => {
      const r = await probe(ping({ connectIp: ROUTE_UNREACHABLE }));
      expect(r.ok).toBe(false);
      expect(r.reason).toMatch(/EHOSTUNREACH|ENETUNREACH/);
    });
  });

  describe('smtp (check_smtp.c smtp_engine_thread)', () => {
    it('is up after 220, HELO answered 250, and QUIT; the server saw HELO with the default name', async () => {
      const since = mark();
      expect(await probe(smtp(SMTP.ok))).toMatchObject({ ok: true, reason: 'HELO accepted' });
      await eventsWith(since, 'smtp');
      await sleep(50);
      const lines = events(since)
        .filter((e) => e.event === 'smtp')
        .map((e) => e.line);
      expect(lines).toEqual(['HELO smtpchecker.keepalived.org', 'QUIT']);
    });

    it('sends the configured helo_name', async () => {
      const since = mark();
      expect((await probe(smtp(SMTP.ok, { heloName: 'director.example.test' }))).ok).toBe(true);
      const first = (await eventsWith(since, 'smtp')).find((e) => e.event === 'smtp');
      expect(first?.line).toBe('HELO director.example.test');
    });

    it.each([
      [SMTP.badBanner, /^bad greeting banner: 554/],
      [SMTP.multiline, /^bad greeting banner: 220-mail\.test/],
      [SMTP.heloRejected, /^bad HELO response: 501/],
      [SMTP.closeAfterBanner, /^connection closed before the helo reply$/],
      [CLOSED_PORT, /^connection refused \(ECONNREFUSED\)$/],
    ])('is down against port %d', async (port, reason) => {
      const r = await probe(smtp(port));
      expect(r.ok).toBe(false);
      expect(r.reason).toMatch(reason);
    });

    it('is down at the deadline when the server never answers', async () => {
      expect(await probe(smtp(25, { connectIp: BLACKHOLE }))).toMatchObject({
        ok: false,
        reason: 'timeout after 700 ms (banner)',
      });
    });
  });

  describe('in the daemon: the checks child process', () => {
    it('runs every kind as ipvsd runs checks, health going down and up with the servers', async () => {
      const path = join(tmp, 'child-state');
      writeFileSync(path, '0');
      const fast = { intervalMs: 200, timeoutMs: 300 };
      const ids = await agent.call<string[]>('childStart', [
        dns({ ...fast, queryName: 'refused.test' }),
        dns({ ...fast }),
        udp({ ...fast, payload: '0102', requireReply: true, replyData: '01' }),
        udp({ ...fast, connectPort: CLOSED_PORT }),
        ping({ ...fast }),
        ping({ ...fast, connectIp: BLACKHOLE }),
        smtp(SMTP.ok, fast),
        smtp(SMTP.heloRejected, fast),
        { type: 'file', path, weight: 0, reverse: false, ...timing, ...fast },
      ]);
      try {
        type Rec = [string, boolean, number, string, 'up' | 'down', number, number, number, boolean];
        const lastHealth = async () => {
          const recs = await agent.call<Rec[]>('childRecords');
          return ids.map((id) => recs.filter((r) => r[0] === id).at(-1)?.[4]);
        };
        const expected = ['down', 'up', 'up', 'down', 'up', 'down', 'up', 'down', 'up'];
        let health: (string | undefined)[] = [];
        for (let waited = 0; waited < 5000; waited += 100) {
          health = await lastHealth();
          if (JSON.stringify(health) === JSON.stringify(expected)) break;
          await sleep(100);
        }
        expect(health).toEqual(expected);
        // The file goes non-zero: that target, and only it, goes down.
        writeFileSync(path, '1');
        for (let waited = 0; waited < 3000; waited += 100) {
          health = await lastHealth();
          if (health[8] === 'down') break;
          await sleep(100);
        }
        expect(health).toEqual([...expected.slice(0, 8), 'down']);
      } finally {
        await agent.call('childStop');
      }
    });
  });

  describe('file (track_file.c)', () => {
    const file = (path: string, weight: number, reverse = false) => ({
      type: 'file',
      path,
      weight,
      reverse,
      ...timing,
    });

    it('weight 0: up on 0, down on a non-zero number, up again on 0', async () => {
      const path = join(tmp, 'state');
      writeFileSync(path, '0\n');
      expect(await probe(file(path, 0))).toMatchObject({ ok: true, reason: 'value 0' });
      writeFileSync(path, '1\n');
      expect(await probe(file(path, 0))).toMatchObject({ ok: false, reason: 'value 1' });
      writeFileSync(path, '0');
      expect((await probe(file(path, 0))).ok).toBe(true);
    });

    it('a missing file reads as 0 (process_track_file); reverse makes that a failure', async () => {
      const path = join(tmp, 'missing');
      expect((await probe(file(path, 0))).ok).toBe(true);
      expect((await probe(file(path, 0, true))).ok).toBe(false);
    });

    it('weight 1: a number is a weight change, INT_MIN is the failure', async () => {
      const path = join(tmp, 'weighted');
      writeFileSync(path, '5');
      expect(await probe(file(path, 1))).toMatchObject({ ok: true, reason: 'value 5, weight +5' });
      writeFileSync(path, '-2147483648');
      expect((await probe(file(path, 1))).ok).toBe(false);
    });
  });
});
