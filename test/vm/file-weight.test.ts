/**
 * keepalived's FILE_CHECK with a weight, side by side on the VM's kernel IPVS: Debian's keepalived
 * runs a keepalived.conf in one director namespace, ipvsd runs `ipvsctl convert`'s output of the
 * same file in another, both watch the same track files. After every change of the files' numbers
 * both kernel tables (`ipvsadm -Sn`) must hold the same weights: configured weight + the sum of
 * value × weight of the real server's file checks, 0 when that is negative, the destination never
 * removed (keepalived/trackers/track_file.c process_update_checker_track_file_status,
 * keepalived/check/ipwrapper.c update_svr_wgt, check_data.h real_weight). In ipvsd a change is one
 * edit of the destination, never a delete and re-add.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { KEEPALIVED } from '../support/keepalived.js';
import { createNetnsLab, run, type SpawnedProcess } from '../support/netns.js';
import { IPVSCTL, IPVSD } from '../support/paths.js';
import { waitFor } from '../support/wait.js';
import { directorNamespace, ipvsadmSave, ipvsctlJson, normalizedSave } from './ipvs-lab.js';
import { logEntries, waitForLog } from './nat-topology.js';

const lab = createNetnsLab();
const DIR = `/tmp/ipvsd-vm-file-weight-${process.pid}`;
const CONF = join(DIR, 'keepalived.conf');
const SOCKET = join(DIR, 'control.sock');
const TF1 = join(DIR, 'tf1');
const TF2 = join(DIR, 'tf2');

// rs1: weight 5 and TF1 × 2 (the track file's weight). rs2: weight 3, TF2 × −2 (the checker's own
// weight) and TF1 × 2: two file checks, their products added (check_daemon.c
// set_effective_weights sums every checker's cur_weight).
const KEEPALIVED_CONF = `
track_file TF1 {
    file ${TF1}
    weight 2
}

track_file TF2 {
    file ${TF2}
}

virtual_server 203.0.113.100 80 {
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.11 8080 {
        weight 5
        FILE_CHECK {
            track_file TF1
        }
    }
    real_server 198.51.100.12 8080 {
        weight 3
        FILE_CHECK {
            track_file TF2
            weight -2
        }
        FILE_CHECK {
            track_file TF1
        }
    }
}
`;

const dest = (rs: string, weight: number) => `-a -t 203.0.113.100:80 -r ${rs} -m -w ${weight}`;

let keepalivedNs: string;
let ipvsdNs: string;
let keepalived: SpawnedProcess;
let ipvsd: SpawnedProcess;
let convertWarnings = '';

/** Waits until `ns`'s table holds every line of `present`; returns `ipvsadm -Sn`, normalized. */
async function tableWith(ns: string, who: string, present: string[]): Promise<string> {
  let last = '';
  await waitFor(
    `${who}: ${present.join('; ')}`,
    async () => {
      last = await ipvsadmSave(lab, ns);
      const lines = last.trim().split('\n');
      return present.every((l) => lines.includes(l));
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  ).catch((err: Error) => {
    const log = who === 'ipvsd' ? ipvsd.stdout().slice(-4000) : keepalived.stdout().slice(-4000);
    throw new Error(`${err.message}; ipvsadm -Sn:\n${last}\n${log}`);
  });
  return normalizedSave(last);
}

async function bothHold(present: string[]): Promise<void> {
  const [k, i] = await Promise.all([
    tableWith(keepalivedNs, 'keepalived', present),
    tableWith(ipvsdNs, 'ipvsd', present),
  ]);
  expect(i).toBe(k);
}

beforeAll(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  writeFileSync(CONF, KEEPALIVED_CONF);
  writeFileSync(TF1, '1\n');
  writeFileSync(TF2, '0\n');
  keepalivedNs = await directorNamespace(lab, 'kad');
  ipvsdNs = await directorNamespace(lab, 'ipvsd');

  keepalived = lab.spawn(keepalivedNs, KEEPALIVED, [
    '--dont-fork',
    '--log-console',
    '--log-detail',
    '--check',
    '--use-file',
    CONF,
    '--pid',
    join(DIR, 'keepalived.pid'),
    '--checkers_pid',
    join(DIR, 'checkers.pid'),
  ]);

  const converted = await run(process.execPath, [IPVSCTL, 'convert', CONF], { timeoutMs: 300_000 });
  if (converted.code !== 0) throw new Error(`convert refused:\n${converted.stderr}`);
  convertWarnings = converted.stderr;
  const config = parse(converted.stdout) as { director?: Record<string, unknown> };
  config.director = { ...config.director, control_socket: SOCKET, metrics: { listen: '127.0.0.1:9472' } };
  writeFileSync(join(DIR, 'ipvsd.yaml'), stringify(config));
  ipvsd = lab.spawn(ipvsdNs, process.execPath, [IPVSD, '--config', join(DIR, 'ipvsd.yaml')]);
  await waitForLog(ipvsd, (e) => e.msg === 'ipvsd started', { timeoutMs: 180_000, what: '"ipvsd started"' });
});

afterAll(async () => {
  try {
    await keepalived?.kill('SIGTERM', 20_000);
    await lab.cleanup();
  } finally {
    rmSync(DIR, { recursive: true, force: true });
  }
});

describe("FILE_CHECK weight: the file's value × weight moves the real server's IPVS weight, as in keepalived", () => {
  it('convert carries the weights over without a warning about them', () => {
    expect(convertWarnings).not.toContain('FILE_CHECK weight');
  });

  it('at start: 5 + 1×2 and 3 − 0×2 + 1×2', async () => {
    await bothHold([dest('198.51.100.11:8080', 7), dest('198.51.100.12:8080', 5)]);
  });

  it('the numbers grow: 5 + 10×2 and 3 − 1×2 + 10×2', async () => {
    const logFrom = logEntries(ipvsd).length;
    writeFileSync(TF1, '10\n');
    writeFileSync(TF2, '1\n');
    await bothHold([dest('198.51.100.11:8080', 25), dest('198.51.100.12:8080', 21)]);
    // One edit per destination, never a delete and re-add (a re-add would cut its connections).
    const changes = logEntries(ipvsd)
      .slice(logFrom)
      .filter((e) => e.msg === 'ipvs table reconciled')
      .flatMap((e) => e.changes as string[]);
    expect(
      changes.some((c) => c.startsWith('edit-destination tcp/203.0.113.100:80 198.51.100.11:8080')),
    ).toBe(true);
    expect(changes.filter((c) => !c.startsWith('edit-destination'))).toEqual([]);
    const status = await ipvsctlJson<{
      virtual_servers: {
        real_servers: { weight: number; effective_weight: number; kernel_weight: number }[];
      }[];
    }>(lab, ipvsdNs, ['--socket', SOCKET, 'status']);
    expect(
      status.virtual_servers[0]?.real_servers.map((r) => [r.weight, r.effective_weight, r.kernel_weight]),
    ).toEqual([
      [5, 25, 25],
      [3, 21, 21],
    ]);
  });

  it('below zero: weight 0, the real server stays in the table (real_weight clamps, nothing is removed)', async () => {
    writeFileSync(TF1, '-3\n');
    writeFileSync(TF2, '0\n');
    await bothHold([dest('198.51.100.11:8080', 0), dest('198.51.100.12:8080', 0)]);
  });

  it('back: the configured weight plus the deltas again', async () => {
    writeFileSync(TF1, '1\n');
    await bothHold([dest('198.51.100.11:8080', 7), dest('198.51.100.12:8080', 5)]);
  });

  it('a restart of ipvsd keeps the weights it finds until the files are read again: no edit at all', async () => {
    writeFileSync(TF1, '10\n');
    writeFileSync(TF2, '1\n');
    await bothHold([dest('198.51.100.11:8080', 25), dest('198.51.100.12:8080', 21)]);
    await ipvsd.kill('SIGTERM', 30_000); // on_stop: keep (the default): the services stay
    ipvsd = lab.spawn(ipvsdNs, process.execPath, [IPVSD, '--config', join(DIR, 'ipvsd.yaml')]);
    await waitForLog(ipvsd, (e) => e.msg === 'ipvsd started', {
      timeoutMs: 180_000,
      what: '"ipvsd started"',
    });
    type Status = { virtual_servers: { real_servers: { last_check: unknown; kernel_weight: number }[] }[] };
    let status: Status | undefined;
    await waitFor(
      'every file check read once since the restart',
      async () => {
        status = await ipvsctlJson<Status>(lab, ipvsdNs, ['--socket', SOCKET, 'status']);
        return status.virtual_servers[0]?.real_servers.every((r) => r.last_check !== null) === true;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const changes = logEntries(ipvsd)
      .filter((e) => e.msg === 'ipvs table reconciled')
      .flatMap((e) => e.changes as string[]);
    expect(changes).toEqual([]);
    expect(normalizedSave(await ipvsadmSave(lab, ipvsdNs))).toContain(dest('198.51.100.11:8080', 25));
    expect(normalizedSave(await ipvsadmSave(lab, ipvsdNs))).toContain(dest('198.51.100.12:8080', 21));
  });
});
