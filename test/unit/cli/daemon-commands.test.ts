import { describe, expect, it } from 'vitest';
import type { ControlCall } from '../../../src/cli/daemon.js';
import {
  announceCommand,
  drainCommand,
  failoverCommand,
  reloadCommand,
} from '../../../src/cli/daemon-commands.js';
import type { CliOutput } from '../../../src/cli/output.js';
import {
  formatColumns,
  formatLatency,
  formatStatusText,
  isStatusResult,
  statusCommand,
  virtualServerKey,
} from '../../../src/cli/status.js';
import type { ControlRequest, ControlResponse } from '../../../src/control/protocol.js';
import { IpvsdError } from '../../../src/errors.js';
import { STATUS } from '../../support/status-fixture.js';

function capture(): CliOutput & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out: (t: string) => {
      io.stdout += t;
    },
    err: (t: string) => {
      io.stderr += t;
    },
  };
  return io;
}

/** A fake daemon: records the requests and answers with `answer` (or throws it, for no daemon). */
function fakeDaemon(answer: ControlResponse | Error): ControlCall & { requests: [ControlRequest, number][] } {
  const requests: [ControlRequest, number][] = [];
  const call = async (request: ControlRequest, timeoutMs: number) => {
    requests.push([request, timeoutMs]);
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return Object.assign(call, { requests });
}

const NOT_RUNNING = new IpvsdError(
  'IPVSD_ERR_CONTROL',
  'ipvsd is not running (no control socket at /run/ipvsd/control.sock)',
);

describe('status text', () => {
  it('shows every virtual server, real server, VRRP and the last reconcile', () => {
    expect(formatStatusText(STATUS)).toBe(
      [
        'config /etc/ipvsd/ipvsd.yaml, loaded 2025-01-01T00:00:00.000Z',
        'last reconcile 2025-01-01T00:00:02.000Z: 1 operation, 1 error',
        '  add destination: EINVAL',
        '',
        'vrrp instances',
        '  NAME       STATE   PRIORITY  MASTER       TRANSITIONS  SENT  RECEIVED  DROPPED',
        '  VI_client  MASTER  150       203.0.113.2  2            40    3         3 (bad_ttl 2, auth_mismatch 1)',
        '  VI_server  MASTER  150       -            -            -     -         -',
        '',
        'vrrp sync groups',
        '  NAME  STATE   TRANSITIONS  MEMBERS',
        '  VG1   MASTER  2            VI_client, VI_server',
        '',
        'ipvs sync daemon: master running on eth1, sync id 51; follows VG1 (MASTER)',
        '  last error: EPERM: IPVS needs CAP_NET_ADMIN',
        '',
        'virtual server web (tcp/203.0.113.100:80)  scheduler wrr  quorum 2, live weight 3',
        '  REAL SERVER         HEALTH  WEIGHT  KERNEL  DRAINED  LAST CHECK',
        '  198.51.100.11:8080  up      3       3       no       ok 1.2 ms: HTTP 200',
        '  198.51.100.12:8080  up      1       0       yes      ok 13 ms',
        '  198.51.100.13:8080  down    2       -       no       failed 1000 ms: timed out after 1 s',
        '',
        'virtual server udp/[2001:db8::100]:53  scheduler rr  quorum 1, live weight 0 (QUORUM LOST)',
        '  sorry server active: it replaces the real servers until quorum returns',
        '  REAL SERVER        HEALTH  WEIGHT  KERNEL  DRAINED  LAST CHECK',
        '  [2001:db8::11]:53  down    1       -       no       not checked yet',
        '',
        'virtual server mail (fwmark/7)  scheduler sh  quorum 0, live weight 0',
        '  no real servers',
        '',
      ].join('\n'),
    );
  });

  it('says so when there is nothing yet', () => {
    const text = formatStatusText({
      ...STATUS,
      virtual_servers: [],
      vrrp: { instances: [], sync_groups: [] },
      last_reconcile: null,
    });
    expect(text).toBe(
      'config /etc/ipvsd/ipvsd.yaml, loaded 2025-01-01T00:00:00.000Z\nlast reconcile: none yet\n\nno virtual servers\n',
    );
  });

  it('lists the processes, a child that is down and when each last restarted', () => {
    const text = formatStatusText({
      ...STATUS,
      virtual_servers: [],
      vrrp: { instances: [], sync_groups: [] },
      last_reconcile: null,
      processes: [
        { name: 'ipvsd', pid: 100, restarts: 0, started_at: '2025-01-01T00:00:00.000Z', last_restart: null },
        {
          name: 'checks',
          pid: 4242,
          restarts: 2,
          started_at: '2025-01-01T00:05:00.000Z',
          last_restart: '2025-01-01T00:05:00.000Z',
        },
        { name: 'vrrp', pid: null, restarts: 1, started_at: null, last_restart: '2025-01-01T00:04:00.000Z' },
      ],
    });
    expect(text).toBe(
      [
        'config /etc/ipvsd/ipvsd.yaml, loaded 2025-01-01T00:00:00.000Z',
        'last reconcile: none yet',
        '',
        'processes',
        '  PROCESS  PID   RESTARTS  STARTED                   LAST RESTART',
        '  ipvsd    100   0         2025-01-01T00:00:00.000Z  never',
        '  checks   4242  2         2025-01-01T00:05:00.000Z  2025-01-01T00:05:00.000Z',
        '  vrrp     down  1         -                         2025-01-01T00:04:00.000Z',
        '',
        'no virtual servers',
        '',
      ].join('\n'),
    );
  });

  it('pieces', () => {
    expect(formatLatency(0.04)).toBe('0 ms');
    expect(formatLatency(9.94)).toBe('9.9 ms');
    expect(formatLatency(10.4)).toBe('10 ms');
    expect(
      formatColumns(
        [
          ['a', 'bbb', 'c'],
          ['dddd', '', ''],
        ],
        '',
      ),
    ).toEqual(['a     bbb  c', 'dddd']);
    expect(STATUS.virtual_servers.map(virtualServerKey)).toEqual([
      'tcp/203.0.113.100:80',
      'udp/[2001:db8::100]:53',
      'fwmark/7',
    ]);
    expect(isStatusResult(STATUS)).toBe(true);
    expect(isStatusResult({ virtual_servers: 'x' })).toBe(false);
    expect(isStatusResult(null)).toBe(false);
  });
});

describe('ipvsctl status', () => {
  it('--json prints the daemon result exactly', async () => {
    const io = capture();
    const daemon = fakeDaemon({ ok: true, result: STATUS });
    expect(await statusCommand({ json: true }, daemon, io)).toBe(0);
    expect(JSON.parse(io.stdout)).toEqual(STATUS);
    expect(io.stdout.endsWith('}\n')).toBe(true);
    expect(daemon.requests).toEqual([[{ cmd: 'status' }, 10_000]]);
  });

  it('text', async () => {
    const io = capture();
    expect(await statusCommand({ json: false }, fakeDaemon({ ok: true, result: STATUS }), io)).toBe(0);
    expect(io.stdout).toBe(formatStatusText(STATUS));
  });

  it('exit 2 when no daemon answers, 1 when the daemon fails, 2 for a status it cannot read', async () => {
    let io = capture();
    expect(await statusCommand({ json: false }, fakeDaemon(NOT_RUNNING), io)).toBe(2);
    expect(io.stderr).toBe('ipvsctl: ipvsd is not running (no control socket at /run/ipvsd/control.sock)\n');
    io = capture();
    const failed = fakeDaemon({
      ok: false,
      error: { code: 'IPVSD_ERR_INTERNAL', message: 'internal error: x' },
    });
    expect(await statusCommand({ json: true }, failed, io)).toBe(1);
    expect(io.stderr).toBe('ipvsctl: internal error: x\n');
    expect(io.stdout).toBe('');
    io = capture();
    expect(await statusCommand({ json: false }, fakeDaemon({ ok: true, result: { nope: 1 } }), io)).toBe(2);
    expect(io.stderr).toContain('malformed status response');
  });

  it('a bug (not an IpvsdError) is not disguised as a connection error', async () => {
    await expect(statusCommand({ json: false }, fakeDaemon(new TypeError('bug')), capture())).rejects.toThrow(
      'bug',
    );
  });
});

describe('ipvsctl reload', () => {
  it('exit 0 when reloaded', async () => {
    const io = capture();
    const daemon = fakeDaemon({ ok: true, result: { reloaded: true, errors: [] } });
    expect(await reloadCommand(daemon, io)).toBe(0);
    expect(io.stdout).toBe('reloaded\n');
    expect(daemon.requests).toEqual([[{ cmd: 'reload' }, 60_000]]);
  });

  it('exit 1 with every error when refused', async () => {
    const io = capture();
    const errors = ['/etc/ipvsd.yaml:3:5: unknown key "x"', '/etc/ipvsd.yaml:9:1: port must be 1..65535'];
    expect(await reloadCommand(fakeDaemon({ ok: true, result: { reloaded: false, errors } }), io)).toBe(1);
    expect(io.stderr).toBe(`ipvsctl: reload refused; the running config stays:\n${errors.join('\n')}\n`);
  });

  it('exit 2 without a daemon', async () => {
    expect(await reloadCommand(fakeDaemon(NOT_RUNNING), capture())).toBe(2);
  });
});

describe('ipvsctl drain / undrain', () => {
  it('passes VS and RS through and prints the outcome', async () => {
    const io = capture();
    const daemon = fakeDaemon({ ok: true, result: { vs: 'web', rs: '198.51.100.11:8080', drained: true } });
    expect(await drainCommand('drain', 'web', '198.51.100.11:8080', daemon, io)).toBe(0);
    expect(daemon.requests).toEqual([[{ cmd: 'drain', vs: 'web', rs: '198.51.100.11:8080' }, 10_000]]);
    expect(io.stdout).toBe('drained 198.51.100.11:8080 in web (weight 0 until undrain)\n');

    const io2 = capture();
    const undrain = fakeDaemon({
      ok: true,
      result: { vs: 'fwmark/7', rs: '[2001:db8::1]:80', drained: false },
    });
    expect(await drainCommand('undrain', 'fwmark/7', '[2001:db8::1]:80', undrain, io2)).toBe(0);
    expect(undrain.requests[0]?.[0]).toEqual({ cmd: 'undrain', vs: 'fwmark/7', rs: '[2001:db8::1]:80' });
    expect(io2.stdout).toBe('undrained [2001:db8::1]:80 in fwmark/7\n');
    expect(io2.stderr).toBe('');
  });

  it("prints the daemon's warning when the drain could not be saved for a restart", async () => {
    const io = capture();
    const warning = '/var/lib/ipvsd/drains.json: cannot save: EROFS: the drains hold until ipvsd restarts';
    const daemon = fakeDaemon({
      ok: true,
      result: { vs: 'web', rs: '198.51.100.11:8080', drained: true, warning },
    });
    expect(await drainCommand('drain', 'web', '198.51.100.11:8080', daemon, io)).toBe(0);
    expect(io.stdout).toBe('drained 198.51.100.11:8080 in web (weight 0 until undrain)\n');
    expect(io.stderr).toBe(`ipvsctl: warning: ${warning}\n`);
  });

  it("exit 1 with the daemon's message for an unknown VS", async () => {
    const io = capture();
    const daemon = fakeDaemon({
      ok: false,
      error: { code: 'IPVSD_ERR_NOT_FOUND', message: 'no virtual server "nope"' },
    });
    expect(await drainCommand('drain', 'nope', '198.51.100.11:8080', daemon, io)).toBe(1);
    expect(io.stderr).toBe('ipvsctl: no virtual server "nope"\n');
  });

  it('exit 2 without a daemon or with a reply it cannot read', async () => {
    expect(
      await drainCommand('undrain', 'web', '198.51.100.11:8080', fakeDaemon(NOT_RUNNING), capture()),
    ).toBe(2);
    expect(await drainCommand('drain', 'web', 'x', fakeDaemon({ ok: true, result: 42 }), capture())).toBe(2);
  });
});

describe('ipvsctl failover', () => {
  it('asks the daemon and prints the handover', async () => {
    const io = capture();
    const daemon = fakeDaemon({
      ok: true,
      result: { name: 'VG1', kind: 'sync_group', previous: 'MASTER', state: 'BACKUP' },
    });
    expect(await failoverCommand('VG1', daemon, io)).toBe(0);
    expect(daemon.requests).toEqual([[{ cmd: 'failover', name: 'VG1' }, 15_000]]);
    expect(io.stdout).toBe('sync group VG1: MASTER -> BACKUP (priority 0 sent: the peer takes over)\n');
  });

  it("exit 1 with the daemon's reason (unknown name, not master)", async () => {
    for (const message of [
      'no VRRP instance or sync group named "nope" (known: VG1, VI_1)',
      'VI_1 is BACKUP, not MASTER: there is nothing to hand over (run failover on the master)',
    ]) {
      const io = capture();
      const daemon = fakeDaemon({ ok: false, error: { code: 'IPVSD_ERR_USAGE', message } });
      expect(await failoverCommand('x', daemon, io)).toBe(1);
      expect(io.stderr).toBe(`ipvsctl: ${message}\n`);
      expect(io.stdout).toBe('');
    }
  });

  it('exit 2 without a daemon or with a reply it cannot read', async () => {
    expect(await failoverCommand('VI_1', fakeDaemon(NOT_RUNNING), capture())).toBe(2);
    expect(await failoverCommand('VI_1', fakeDaemon({ ok: true, result: {} }), capture())).toBe(2);
  });
});

describe('announcements (issue 15)', () => {
  const announcements = [
    { address: '203.0.113.100', announced: true, reason: 'announced', since: '2025-01-01T00:00:05.000Z' },
    {
      address: '203.0.113.101',
      announced: false,
      reason: 'quorum lost: tcp/203.0.113.101:80 has 0 of 1',
      since: '2025-01-01T00:00:09.000Z',
    },
  ];

  it('status text lists every announced VIP with its state and reason', () => {
    const text = formatStatusText({ ...STATUS, announcements });
    expect(text).toContain(
      [
        'announcements',
        '  VIP            ANNOUNCED  SINCE                     REASON',
        '  203.0.113.100  yes        2025-01-01T00:00:05.000Z  announced',
        '  203.0.113.101  no         2025-01-01T00:00:09.000Z  quorum lost: tcp/203.0.113.101:80 has 0 of 1',
      ].join('\n'),
    );
    expect(formatStatusText(STATUS)).not.toContain('announcements');
  });

  it('withdraw without an address asks for the node and prints every VIP after it', async () => {
    const io = capture();
    const daemon = fakeDaemon({
      ok: true,
      result: {
        address: null,
        withdrawn: true,
        announcements: announcements.map((a) => ({
          ...a,
          announced: false,
          reason: 'withdrawn by operator (node)',
        })),
      },
    });
    expect(await announceCommand('withdraw', undefined, daemon, io)).toBe(0);
    expect(daemon.requests[0]?.[0]).toEqual({ cmd: 'withdraw' });
    expect(io.stdout).toBe(
      'withdrew every VIP of this director (kept withdrawn through reloads and restarts until announce)\n' +
        '  203.0.113.100  withdrawn  withdrawn by operator (node)\n' +
        '  203.0.113.101  withdrawn  withdrawn by operator (node)\n',
    );
  });

  it('announce ADDRESS passes the address and shows the warning; a refusal exits 1', async () => {
    const io = capture();
    const daemon = fakeDaemon({
      ok: true,
      result: {
        address: '203.0.113.100',
        withdrawn: false,
        announcements: [],
        warning: 'the node as a whole stays withdrawn',
      },
    });
    expect(await announceCommand('announce', '203.0.113.100', daemon, io)).toBe(0);
    expect(daemon.requests[0]?.[0]).toEqual({ cmd: 'announce', address: '203.0.113.100' });
    expect(io.stdout).toBe('lifted the withdrawal of 203.0.113.100\n');
    expect(io.stderr).toBe('ipvsctl: warning: the node as a whole stays withdrawn\n');

    const refused = capture();
    const no = fakeDaemon({
      ok: false,
      error: {
        code: 'IPVSD_ERR_NOT_FOUND',
        message: 'withdraw: no virtual server with announce: true on 192.0.2.1',
      },
    });
    expect(await announceCommand('withdraw', '192.0.2.1', no, refused)).toBe(1);
    expect(refused.stderr).toContain('no virtual server with announce: true on 192.0.2.1');
  });
});
