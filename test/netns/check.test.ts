/**
 * Every checker of src/check against real servers: our compiled probes run inside a "director"
 * namespace (through the node agent) and connect over a veth to servers in a second namespace,
 * which report what they saw (peer address, Host header, SNI name). Refused ports get a real RST;
 * the "blackhole" address has a permanent neighbour entry with a MAC nobody owns, so its SYNs
 * vanish without any error and only the deadline can end the check.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeResult } from '../../src/check/result.js';
import type { HttpCheck, ScriptCheck, TcpCheck } from '../../src/config/types.js';
import {
  createNetnsLab,
  type NetnsLab,
  type NodeAgent,
  namespaceExists,
  type SpawnedProcess,
} from '../support/netns.js';
import { sleep } from '../support/wait.js';

const DIRECTOR = '192.0.2.1';
const DIRECTOR_2 = '192.0.2.11';
const DIRECTOR_3 = '192.0.2.12';
const SERVER = '192.0.2.2';
const BLACKHOLE = '192.0.2.99';
const ROUTE_BLACKHOLE = '192.0.2.200';
const ROUTE_UNREACHABLE = '192.0.2.201';
const TCP_PORT = 7001;
const CLOSED_PORT = 7002;
const HTTP_PORT = 8080;
const HTTPS_PORT = 8443;
const TLS_NAME = 'web.example.test';
const OK_BODY = 'hello from the real server\n';
const OK_MD5 = createHash('md5').update(OK_BODY).digest('hex');

const source = { line: 1, col: 1 };
const timing = {
  intervalMs: 1000,
  timeoutMs: 1000,
  retry: 1,
  delayBeforeRetryMs: 0,
  rise: 1,
  warmupMs: 0,
  initialState: 'up' as const,
  source,
};

function tcp(over: Partial<TcpCheck> = {}): TcpCheck {
  return { type: 'tcp', connectIp: SERVER, connectPort: TCP_PORT, bindIp: null, ...timing, ...over };
}

function http(over: Partial<HttpCheck> = {}): HttpCheck {
  return {
    type: 'http',
    connectIp: SERVER,
    connectPort: HTTP_PORT,
    bindIp: null,
    ...timing,
    path: '/ok',
    status: [{ min: 200, max: 200 }],
    digest: null,
    host: null,
    sni: null,
    verifyTls: false,
    ...over,
  };
}

function https(over: Partial<HttpCheck> = {}): HttpCheck {
  return http({ type: 'https', connectPort: HTTPS_PORT, ...over });
}

function script(argv: string[], over: Partial<ScriptCheck> = {}): ScriptCheck {
  return { type: 'script', argv, ...timing, ...over };
}

interface ServerEvent {
  event: string;
  remote?: string;
  host?: string | null;
  path?: string;
  userAgent?: string | null;
  servername?: string | null;
}

function pidAlive(pid: number): boolean {
  try {
    // A zombie still answers kill(0): look at its state too.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

describe('health checks against real servers in a namespace', () => {
  let lab: NetnsLab;
  let director: string;
  let servers: string;
  let agent: NodeAgent;
  let serverProc: SpawnedProcess;
  let tmp: string;
  let made: string[] = [];

  const probe = (check: unknown) => agent.call<ProbeResult>('probe', check);
  /** What the servers printed since `mark` (a length of their stdout). */
  const serverEvents = (mark = 0): ServerEvent[] =>
    serverProc
      .stdout()
      .slice(mark)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ServerEvent);
  const mark = () => serverProc.stdout().length;
  /**
   * The server's events since `mark`, once the line of the request a check made has come through
   * the server's stdout pipe: the probe's verdict can reach this process before that line does.
   * After 5 s, whatever there is (the assertions then say what is missing).
   */
  async function eventsWithRequest(since: number): Promise<ServerEvent[]> {
    for (let waited = 0; waited < 5000; waited += 10) {
      const events = serverEvents(since);
      if (events.some((e) => e.event === 'request')) return events;
      await sleep(10);
    }
    return serverEvents(since);
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
    await lab.addAddress(director, 'eth0', `${DIRECTOR_2}/24`);
    await lab.addAddress(director, 'eth0', `${DIRECTOR_3}/24`);
    await lab.execOk(servers, 'ip', ['route', 'add', 'blackhole', `${DIRECTOR_3}/32`]);
    await lab.execOk(director, 'ip', ['route', 'add', 'blackhole', `${ROUTE_BLACKHOLE}/32`]);
    await lab.execOk(director, 'ip', ['route', 'add', 'unreachable', `${ROUTE_UNREACHABLE}/32`]);
    // SYNs to BLACKHOLE go out to a MAC nobody has: no ARP failure, no ICMP, no RST. Silence.
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

    tmp = mkdtempSync(join(tmpdir(), 'ipvsd-check-'));
    const key = join(tmp, 'key.pem');
    const cert = join(tmp, 'cert.pem');
    try {
      execFileSync('openssl', ['version'], { stdio: 'pipe' });
    } catch {
      throw new Error(
        'the HTTPS check tests need `openssl` to make a self-signed certificate (Debian package openssl)',
      );
    }
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        `/CN=${TLS_NAME}`,
        '-addext',
        `subjectAltName=DNS:${TLS_NAME}`,
      ],
      { stdio: 'pipe' },
    );

    serverProc = lab.spawn(servers, process.execPath, [
      'test/netns/fixtures/check-servers.mjs',
      JSON.stringify({
        tcp: `${SERVER}:${TCP_PORT}`,
        http: `${SERVER}:${HTTP_PORT}`,
        https: `${SERVER}:${HTTPS_PORT}`,
        key,
        cert,
      }),
    ]);
    await serverProc.waitForOutput('"ready"');
    agent = await lab.nodeAgent(director, 'test/netns/drivers/check.mjs');
  });

  afterAll(async () => {
    await lab?.cleanup();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    for (const name of made) expect(await namespaceExists(name), `namespace ${name} removed`).toBe(false);
  });

  it('probes from inside the director namespace', async () => {
    const inside = (await lab.execOk(director, 'readlink', ['/proc/self/ns/net'])).trim();
    expect(await agent.netnsId()).toBe(inside);
  });

  describe('tcp', () => {
    it('is up when the handshake completes', async () => {
      const r = await probe(tcp());
      expect(r).toMatchObject({ ok: true, reason: 'connected' });
      expect(r.latencyMs).toBeGreaterThan(0);
      expect(r.latencyMs).toBeLessThan(500);
    });

    it('is half-open: reset at the SYN-ACK, so the server never accepts and no TIME_WAIT is left', async () => {
      // The kernel counts a passive open when the handshake's last ACK makes a connection; the
      // check sends RST in its place.
      const passiveOpens = async () => {
        const snmp = (await lab.execOk(servers, 'cat', ['/proc/net/snmp'])).split('\n');
        const [names = '', values = ''] = snmp.filter((l) => l.startsWith('Tcp:'));
        return Number(values.split(/\s+/)[names.split(/\s+/).indexOf('PassiveOpens')]);
      };
      const timeWait = (ns: string) =>
        lab.execOk(ns, 'ss', [
          '-Htan',
          'state',
          'time-wait',
          `( sport = :${TCP_PORT} or dport = :${TCP_PORT} )`,
        ]);
      const before = mark();
      const opens = await passiveOpens();
      for (let i = 0; i < 20; i++)
        expect(await probe(tcp())).toMatchObject({ ok: true, reason: 'connected' });
      await sleep(200);
      expect(await passiveOpens()).toBe(opens);
      expect(serverEvents(before).filter((e) => e.event === 'tcp')).toEqual([]);
      expect(await timeWait(director)).toBe('');
      expect(await timeWait(servers)).toBe('');
    });

    it('says "connection refused" for a closed port', async () => {
      expect(await probe(tcp({ connectPort: CLOSED_PORT }))).toMatchObject({
        ok: false,
        reason: 'connection refused (ECONNREFUSED)',
      });
    });

    it('names what the routing table says about the address', async () => {
      expect(await probe(tcp({ connectIp: ROUTE_UNREACHABLE }))).toMatchObject({
        ok: false,
        reason: 'host unreachable (EHOSTUNREACH)',
      });
      expect(await probe(tcp({ connectIp: ROUTE_BLACKHOLE }))).toMatchObject({
        ok: false,
        reason: 'invalid argument, blackhole route? (EINVAL)',
      });
    });

    it('times out on a blackholed address, at the timeout', async () => {
      const r = await probe(tcp({ connectIp: BLACKHOLE, timeoutMs: 700 }));
      expect(r).toMatchObject({ ok: false, reason: 'timeout after 700 ms' });
      expect(r.latencyMs).toBeGreaterThanOrEqual(690);
      expect(r.latencyMs).toBeLessThan(1500);
    });

    it('connects from bind_ip when one is given', async () => {
      // The servers cannot answer DIRECTOR_3 (blackhole route back), but can answer DIRECTOR: the
      // verdict shows which source address the SYN carried. (The server cannot simply log the peer:
      // the check resets the connection before the server's accept callback can ask for it.)
      expect(await probe(tcp({ bindIp: DIRECTOR_3, timeoutMs: 300 }))).toMatchObject({
        ok: false,
        reason: 'timeout after 300 ms',
      });
      expect(await probe(tcp({ bindIp: DIRECTOR, timeoutMs: 300 }))).toMatchObject({ ok: true });
      expect(await probe(tcp({ timeoutMs: 300 }))).toMatchObject({ ok: true });
    });

    it('fails clearly when bind_ip is not an address of this host', async () => {
      expect(await probe(tcp({ bindIp: '192.0.2.77' }))).toMatchObject({
        ok: false,
        reason: 'source address not available (EADDRNOTAVAIL)',
      });
    });

    it('ends at once when aborted', async () => {
      const r = await agent.call<ProbeResult>(
        'probeAbortedAfter',
        tcp({ connectIp: BLACKHOLE, timeoutMs: 5000 }),
        100,
      );
      expect(r).toMatchObject({ ok: false, reason: 'aborted' });
      expect(r.latencyMs).toBeLessThan(1000);
    });

    it('checks afresh after every way a check can end', async () => {
      // The native checker keeps a socket whose check ended (disconnected) for the next check:
      // nothing the last check left behind (a SYN nobody answered, a refusal, a reset response, an
      // abort) may show in the verdict of the next, of either kind.
      const connected = { ok: true, reason: 'connected' };
      const status200 = { ok: true, reason: 'status 200' };
      const timeout = { ok: false, reason: 'timeout after 200 ms' };
      const refused = { ok: false, reason: 'connection refused (ECONNREFUSED)' };
      const endings = [
        tcp({ connectIp: BLACKHOLE, timeoutMs: 200 }),
        tcp({ connectPort: CLOSED_PORT }),
        tcp(),
        http({ path: '/slow', timeoutMs: 200 }),
        http({ path: '/hangup' }),
        http(),
      ];
      for (const ending of endings) {
        await probe(ending);
        expect(await probe(tcp())).toMatchObject(connected);
        await probe(ending);
        expect(await probe(http())).toMatchObject(status200);
        await probe(ending);
        expect(await probe(tcp({ connectPort: CLOSED_PORT }))).toMatchObject(refused);
        await probe(ending);
        expect(await probe(tcp({ connectIp: BLACKHOLE, timeoutMs: 200 }))).toMatchObject(timeout);
      }
      await agent.call('probeAbortedAfter', tcp({ connectIp: BLACKHOLE, timeoutMs: 5000 }), 50);
      expect(await probe(tcp())).toMatchObject(connected);
      await agent.call('probeAbortedAfter', http({ path: '/slow', timeoutMs: 5000 }), 50);
      expect(await probe(http())).toMatchObject(status200);
    });
  });

  describe('http', () => {
    it('resets the connection at the verdict: the director keeps no TIME_WAIT entry', async () => {
      for (let i = 0; i < 10; i++)
        expect(await probe(http())).toMatchObject({ ok: true, reason: 'status 200' });
      expect(
        await lab.execOk(director, 'ss', ['-Htan', 'state', 'time-wait', `( dport = :${HTTP_PORT} )`]),
      ).toBe('');
    });

    it('is up on the expected status, and sends Host ip:port by default', async () => {
      const before = mark();
      expect(await probe(http())).toMatchObject({ ok: true, reason: 'status 200' });
      const [req] = (await eventsWithRequest(before)).filter((e) => e.event === 'request');
      expect(req).toMatchObject({ path: '/ok', host: `${SERVER}:${HTTP_PORT}`, userAgent: 'ipvsd-check' });
    });

    it('sends the configured Host header', async () => {
      const before = mark();
      expect((await probe(http({ host: 'www.example.test' }))).ok).toBe(true);
      const [req] = (await eventsWithRequest(before)).filter((e) => e.event === 'request');
      expect(req?.host).toBe('www.example.test');
    });

    it('is down on a wrong status, naming both', async () => {
      expect(await probe(http({ path: '/fail' }))).toMatchObject({
        ok: false,
        reason: 'status 503, expected 200',
      });
      expect(
        await probe(
          http({
            path: '/redirect',
            status: [
              { min: 200, max: 299 },
              { min: 500, max: 500 },
            ],
          }),
        ),
      ).toMatchObject({ ok: false, reason: 'status 302, expected 200-299 or 500' });
    });

    it('accepts any status in the ranges', async () => {
      const status = [
        { min: 200, max: 299 },
        { min: 503, max: 503 },
      ];
      expect(await probe(http({ path: '/fail', status }))).toMatchObject({ ok: true, reason: 'status 503' });
    });

    it('compares the MD5 of the whole body with the digest, as genhash does', async () => {
      expect(await probe(http({ digest: OK_MD5 }))).toMatchObject({
        ok: true,
        reason: `status 200, digest ${OK_MD5}`,
      });
      // Chunked transfer: the digest is over the decoded body.
      expect((await probe(http({ path: '/chunked', digest: OK_MD5 }))).ok).toBe(true);
      const wrong = '0123456789abcdef0123456789abcdef';
      expect(await probe(http({ digest: wrong }))).toMatchObject({
        ok: false,
        reason: `digest ${OK_MD5} differs from expected ${wrong}`,
      });
    });

    it('accepts the digest that curl | md5sum computes (the genhash recipe)', async () => {
      for (const path of ['/ok', '/chunked']) {
        const out = await lab.execOk(director, 'sh', [
          '-c',
          `curl -sf http://${SERVER}:${HTTP_PORT}${path} | md5sum`,
        ]);
        const digest = out.split(' ')[0] ?? '';
        expect(digest).toMatch(/^[0-9a-f]{32}$/);
        expect(await probe(http({ path, digest }))).toMatchObject({ ok: true });
      }
    });

    it('times out on a slow server; the deadline covers the whole exchange', async () => {
      const slow = await probe(http({ path: '/slow', timeoutMs: 600 }));
      expect(slow).toMatchObject({ ok: false, reason: 'timeout after 600 ms (waiting for the response)' });
      expect(slow.latencyMs).toBeGreaterThanOrEqual(590);
      expect(slow.latencyMs).toBeLessThan(1500);
      const body = await probe(http({ path: '/slow-body', timeoutMs: 600 }));
      expect(body).toMatchObject({ ok: false, reason: 'timeout after 600 ms (reading the body)' });
      const connect = await probe(http({ connectIp: BLACKHOLE, timeoutMs: 600 }));
      expect(connect).toMatchObject({ ok: false, reason: 'timeout after 600 ms (connecting)' });
    });

    it('says "connection refused" for a closed port and names a hang-up', async () => {
      expect(await probe(http({ connectPort: CLOSED_PORT }))).toMatchObject({
        ok: false,
        reason: 'connection refused (ECONNREFUSED)',
      });
      expect(await probe(http({ path: '/hangup' }))).toMatchObject({
        ok: false,
        reason: 'connection closed before the response',
      });
    });

    it('connects from bind_ip', async () => {
      const before = mark();
      expect((await probe(http({ bindIp: DIRECTOR_2 }))).ok).toBe(true);
      const [req] = (await eventsWithRequest(before)).filter((e) => e.event === 'request');
      expect(req?.remote).toBe(DIRECTOR_2);
    });

    it('connects to connect_ip/connect_port', async () => {
      // Only the address and port in the check count: nothing else says where the server is.
      expect(await probe(http({ connectIp: SERVER, connectPort: HTTPS_PORT }))).toMatchObject({ ok: false });
      expect(await probe(http({ connectIp: SERVER, connectPort: HTTP_PORT }))).toMatchObject({ ok: true });
    });

    it('names a response cut off in the body, a malformed one and an oversized head', async () => {
      expect(await probe(http({ path: '/partial' }))).toMatchObject({
        ok: false,
        reason: 'connection closed in the body',
      });
      expect(await probe(http({ path: '/partial-chunked', digest: OK_MD5 }))).toMatchObject({
        ok: false,
        reason: 'connection closed in the body',
      });
      expect(await probe(http({ path: '/malformed' }))).toMatchObject({
        ok: false,
        reason: 'malformed HTTP response',
      });
      expect(await probe(http({ path: '/big-head' }))).toMatchObject({
        ok: false,
        reason: 'HTTP response headers too large',
      });
    });

    it('reads a body to the end of the connection, and stops at 4 MiB of body', async () => {
      expect(await probe(http({ path: '/until-close', digest: OK_MD5 }))).toMatchObject({
        ok: true,
        reason: `status 200, digest ${OK_MD5}`,
      });
      const huge = await probe(http({ path: '/huge', timeoutMs: 5000 }));
      expect(huge).toMatchObject({ ok: false, reason: 'HTTP response body larger than 4 MiB' });
      // Exactly at the limit is still a body.
      expect(await probe(http({ path: '/limit', timeoutMs: 5000 }))).toMatchObject({ ok: true });
    });

    it('judges a response that arrives in many small pieces', async () => {
      expect(await probe(http({ path: '/trickle', digest: OK_MD5 }))).toMatchObject({
        ok: true,
        reason: `status 200, digest ${OK_MD5}`,
      });
    });
  });

  describe('https', () => {
    it('is up with a self-signed certificate when not verifying, and sends the SNI name', async () => {
      const before = mark();
      expect(await probe(https({ sni: TLS_NAME, digest: OK_MD5 }))).toMatchObject({ ok: true });
      const events = await eventsWithRequest(before);
      expect(events.find((e) => e.event === 'tls')?.servername).toBe(TLS_NAME);
      expect(events.find((e) => e.event === 'request')).toMatchObject({
        path: '/ok',
        host: `${SERVER}:${HTTPS_PORT}`,
      });
    });

    it('sends no SNI when none is configured, even with a Host header', async () => {
      const before = mark();
      expect((await probe(https({ host: TLS_NAME }))).ok).toBe(true);
      const events = await eventsWithRequest(before);
      expect(events.find((e) => e.event === 'tls')).toEqual({ event: 'tls', servername: null });
      expect(events.find((e) => e.event === 'request')?.host).toBe(TLS_NAME);
    });

    it('fails on the self-signed certificate when verify_tls is on', async () => {
      expect(await probe(https({ sni: TLS_NAME, verifyTls: true }))).toMatchObject({
        ok: false,
        reason: 'TLS: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)',
      });
    });

    it('judges status and timeouts over TLS as over HTTP', async () => {
      expect(await probe(https({ path: '/fail' }))).toMatchObject({
        ok: false,
        reason: 'status 503, expected 200',
      });
      expect(await probe(https({ path: '/slow', timeoutMs: 500 }))).toMatchObject({
        ok: false,
        reason: 'timeout after 500 ms (waiting for the response)',
      });
    });

    it('fails with a TLS reason when the port speaks plain HTTP', async () => {
      expect(await probe(https({ connectPort: HTTP_PORT }))).toMatchObject({
        ok: false,
        reason: 'TLS: wrong version number',
      });
    });
  });

  describe('script', () => {
    it('is up on exit 0, and runs argv without a shell', async () => {
      expect(await probe(script(['/bin/true']))).toMatchObject({ ok: true, reason: 'exit code 0' });
      // A shell would run the substitution and fail; exec passes it to echo as text.
      expect(await probe(script(['/bin/echo', '$(exit 1); exit 1']))).toMatchObject({ ok: true });
    });

    it('is down on a non-zero exit, with the first line of stderr', async () => {
      expect(
        await probe(script(['/bin/sh', '-c', 'echo >&2; echo "  disk full  " >&2; echo second >&2; exit 3'])),
      ).toMatchObject({ ok: false, reason: 'exit code 3: disk full' });
      expect(await probe(script(['/bin/false']))).toMatchObject({ ok: false, reason: 'exit code 1' });
    });

    it('names the signal that ended the script', async () => {
      expect(await probe(script(['/bin/sh', '-c', 'kill -TERM $$']))).toMatchObject({
        ok: false,
        reason: 'killed by SIGTERM',
      });
    });

    it('says when the command cannot run', async () => {
      expect(await probe(script(['/nonexistent/chk']))).toMatchObject({
        ok: false,
        reason: 'cannot run /nonexistent/chk: no such file (ENOENT)',
      });
    });

    it('kills a slow script and everything it started at the timeout', async () => {
      const pidFile = join(tmp, 'child.pid');
      const r = await probe(
        script(
          ['/bin/sh', '-c', `echo starting >&2; sleep 60 & echo $! > ${pidFile}; sleep 60; echo never`],
          {
            timeoutMs: 500,
          },
        ),
      );
      expect(r).toMatchObject({ ok: false, reason: 'timeout after 500 ms (killed): starting' });
      expect(r.latencyMs).toBeGreaterThanOrEqual(490);
      expect(r.latencyMs).toBeLessThan(1500);
      expect(existsSync(pidFile)).toBe(true);
      const child = Number(readFileSync(pidFile, 'utf8'));
      const deadline = Date.now() + 2000;
      while (pidAlive(child) && Date.now() < deadline) await sleep(20);
      expect(pidAlive(child), `background child ${child} of the killed script`).toBe(false);
    });

    it('a script that ignores SIGTERM is still killed', async () => {
      const r = await probe(script(['/bin/sh', '-c', 'trap "" TERM; sleep 60'], { timeoutMs: 300 }));
      expect(r).toMatchObject({ ok: false, reason: 'timeout after 300 ms (killed)' });
    });
  });

  describe('a deadline that passes while the prober itself could not run', () => {
    // The daemon was stalled (a busy loop at start, a process left unscheduled) past the deadline
    // while the server answered: that judges the daemon, not the server. Seen under TCG right
    // after a restart: one false timeout took a real server out and the next probe put it back.
    const stall = (check: unknown, ms: number) => agent.call<ProbeResult>('probeThroughStall', check, ms);

    it('tcp: a server that answered during the stall is up', async () => {
      expect(await stall(tcp({ timeoutMs: 300 }), 900)).toMatchObject({ ok: true, reason: 'connected' });
    });

    it('http: a server that answered during the stall is up', async () => {
      expect(await stall(http({ timeoutMs: 300 }), 900)).toMatchObject({ ok: true, reason: 'status 200' });
    });

    it('https: a server that answered during the stall is up', async () => {
      expect(await stall(https({ timeoutMs: 300 }), 900)).toMatchObject({ ok: true, reason: 'status 200' });
    });

    it('still times out on servers that do not answer', async () => {
      expect(await stall(tcp({ connectIp: BLACKHOLE, timeoutMs: 300 }), 900)).toMatchObject({
        ok: false,
        reason: 'timeout after 300 ms',
      });
      expect(await stall(http({ path: '/slow', timeoutMs: 300 }), 900)).toMatchObject({
        ok: false,
        reason: 'timeout after 300 ms (waiting for the response)',
      });
    });
  });

  it('none is always up', async () => {
    expect(await probe({ type: 'none', source })).toEqual({ ok: true, latencyMs: 0, reason: 'no check' });
  });

  describe('monitor on real timers and real probes', () => {
    it('takes a stopped server down and brings it back, one probe per shared check', async () => {
      const port = 7100;
      const proc = lab.spawn(servers, process.execPath, [
        'test/netns/fixtures/check-servers.mjs',
        JSON.stringify({ tcp: `${SERVER}:${port}` }),
      ]);
      await proc.waitForOutput('"ready"');
      const check = tcp({
        connectPort: port,
        intervalMs: 200,
        timeoutMs: 150,
        retry: 2,
        delayBeforeRetryMs: 50,
        rise: 2,
      });
      // Two real servers (say, in two virtual servers) with the same check: one target.
      const ids = await agent.call<string[]>('monitorStart', [
        { check, start: 'down' },
        { check: { ...check, source: { line: 20, col: 9 } }, start: 'down' },
      ]);
      expect(new Set(ids).size).toBe(1);
      const id = ids[0] as string;
      try {
        await sleep(700);
        let snap = await agent.call<Record<string, { health: string }>>('monitorSnapshot');
        expect(Object.keys(snap)).toEqual([id]);
        expect(snap[id]?.health).toBe('up');

        await proc.kill('SIGKILL');
        await sleep(700);
        snap = await agent.call('monitorSnapshot');
        expect(snap[id]?.health).toBe('down');

        const again = lab.spawn(servers, process.execPath, [
          'test/netns/fixtures/check-servers.mjs',
          JSON.stringify({ tcp: `${SERVER}:${port}` }),
        ]);
        await again.waitForOutput('"ready"');
        await sleep(700);
        snap = await agent.call('monitorSnapshot');
        expect(snap[id]?.health).toBe('up');
      } finally {
        await agent.call('monitorStop');
      }
      const events =
        await agent.call<{ kind: string; at: number; health?: string; reason?: string }[]>('monitorEvents');
      const changes = events.filter((e) => e.kind === 'change');
      expect(changes.map((e) => e.health)).toEqual(['up', 'down', 'up']);
      expect(changes[1]?.reason).toBe('connection refused (ECONNREFUSED)');
      // One probe at a time: results of the single target are at least the retry delay apart.
      const results = events.filter((e) => e.kind === 'result');
      for (let i = 1; i < results.length; i++) {
        expect((results[i]?.at ?? 0) - (results[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(40);
      }
    });

    it('probes a kept target with the check object of the reload, and stops probing a removed one', async () => {
      // A reload that keeps the id but brings a new object (here: another source address): the
      // next probe uses the new one.
      type Status = { health: string; lastResult: { reason: string } | null };
      const snapshot = () => agent.call<Record<string, Status>>('monitorSnapshot');
      const until = async (what: (s: Status | undefined) => boolean): Promise<Status | undefined> => {
        for (let i = 0; i < 100; i++) {
          const s = (await snapshot())[id];
          if (what(s)) return s;
          await sleep(100);
        }
        return (await snapshot())[id];
      };
      // The servers cannot answer DIRECTOR_3 (blackhole route back) but can answer DIRECTOR.
      const check = tcp({ bindIp: DIRECTOR_3, intervalMs: 100, timeoutMs: 100, retry: 1, rise: 1 });
      const [id = ''] = await agent.call<string[]>('monitorStart', [{ check, start: 'up' }]);
      try {
        expect(await until((s) => s?.health === 'down')).toMatchObject({
          health: 'down',
          lastResult: { reason: 'timeout after 100 ms' },
        });
        await agent.call('monitorUpdate', [{ id, check: { ...check, bindIp: DIRECTOR } }]);
        expect(await until((s) => s?.health === 'up')).toMatchObject({
          health: 'up',
          lastResult: { reason: 'connected' },
        });
        await agent.call('monitorUpdate', []);
        const results = async () =>
          (await agent.call<{ kind: string; id: string }[]>('monitorEvents')).filter(
            (e) => e.kind === 'result' && e.id === id,
          ).length;
        const before = await results();
        await sleep(500);
        expect(await results()).toBe(before);
      } finally {
        await agent.call('monitorStop');
      }
    });
  });
});
