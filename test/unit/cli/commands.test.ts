import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyCommand } from '../../../src/cli/apply.js';
import { checkCommand } from '../../../src/cli/check.js';
import { listCommand } from '../../../src/cli/list.js';
import type { CliOutput } from '../../../src/cli/output.js';
import { createMemoryBackend, type MemoryBackend } from '../../../src/ipvs/memory-backend.js';
import { addressService } from '../../../src/model/ipvs.js';

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

async function file(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ipvsctl-'));
  const path = join(dir, 'ipvsd.yaml');
  await writeFile(path, text);
  return path;
}

const CONFIG = `virtual_servers:
  - address: 203.0.113.100
    port: 80
    scheduler: wrr
    real_servers:
      - { address: 198.51.100.11, port: 8080, weight: 3 }
      - { address: 198.51.100.12, port: 8080 }
`;

describe('ipvsctl check', () => {
  it('exits 0 for a valid file', async () => {
    const io = capture();
    expect(await checkCommand(await file(CONFIG), io)).toBe(0);
    expect(io.stdout).toContain('valid (1 virtual servers, 2 real servers)');
  });

  it('exits 1 and prints every error as FILE:LINE:COL: message', async () => {
    const path = await file(
      `${CONFIG.replace('scheduler: wrr', 'scheduler: wrrr').replace('weight: 3', 'wieght: 3')}`,
    );
    const io = capture();
    expect(await checkCommand(path, io)).toBe(1);
    expect(io.stderr.split('\n').slice(0, 2)).toEqual([
      `${path}:4:16: scheduler "wrrr" is not one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos`,
      `${path}:6:47: unknown key "wieght" in real server; did you mean "weight"?`,
    ]);
  });

  it('exits 2 when the file cannot be read', async () => {
    const io = capture();
    expect(await checkCommand('/nonexistent/ipvsd.yaml', io)).toBe(2);
    expect(io.stderr).toContain('cannot read /nonexistent/ipvsd.yaml');
  });
});

describe('ipvsctl apply (in-memory kernel)', () => {
  // The command closes its backend; keep this one open so the test can inspect it afterwards.
  const open = (b: MemoryBackend) => async () => ({ ...b, close: () => {} });

  it('prints one JSON entry per kernel change, then none on a second run', async () => {
    const backend = createMemoryBackend();
    const path = await file(CONFIG);
    const io = capture();
    expect(await applyCommand(path, { dryRun: false, json: true }, open(backend), io)).toBe(0);
    expect(JSON.parse(io.stdout)).toEqual({
      operations: [
        {
          op: 'add-service',
          service: 'tcp/203.0.113.100:80',
          scheduler: 'wrr',
          flags: [],
          persistence: null,
        },
        {
          op: 'add-destination',
          service: 'tcp/203.0.113.100:80',
          destination: '198.51.100.11:8080',
          forwarding: 'nat',
          weight: 3,
          upperThreshold: 0,
          lowerThreshold: 0,
        },
        {
          op: 'add-destination',
          service: 'tcp/203.0.113.100:80',
          destination: '198.51.100.12:8080',
          forwarding: 'nat',
          weight: 1,
          upperThreshold: 0,
          lowerThreshold: 0,
        },
      ],
    });
    const again = capture();
    expect(await applyCommand(path, { dryRun: false, json: true }, open(backend), again)).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ operations: [] });
  });

  it('changes nothing with --dry-run', async () => {
    const backend = createMemoryBackend();
    const io = capture();
    expect(await applyCommand(await file(CONFIG), { dryRun: true, json: false }, open(backend), io)).toBe(0);
    expect(io.stdout).toContain('would add-service tcp/203.0.113.100:80 scheduler=wrr');
    expect(await backend.dump()).toEqual([]);
  });

  it('exits 1 and names the failed operation when the kernel refuses one', async () => {
    const backend = createMemoryBackend([], { schedulers: ['rr'] });
    const io = capture();
    expect(await applyCommand(await file(CONFIG), { dryRun: false, json: false }, open(backend), io)).toBe(1);
    expect(io.stderr).toContain('add-service tcp/203.0.113.100:80: scheduler "wrr" is not available');
    expect(io.stdout).toContain('0 of 3 operations applied');
  });

  it('does not touch the kernel when the config is invalid', async () => {
    const backend = createMemoryBackend();
    const io = capture();
    expect(
      await applyCommand(
        await file('virtual_servers: [{ port: 80 }]\n'),
        { dryRun: false, json: false },
        open(backend),
        io,
      ),
    ).toBe(1);
    expect(backend.appliedCount()).toBe(0);
  });

  it('reports an invalid config before a kernel that cannot be opened, and closes what it opened', async () => {
    const io = capture();
    const bad = await file('virtual_servers: [{ port: 80 }]\n');
    const noIpvs = async () => {
      throw new Error('the kernel has no IPVS');
    };
    expect(await applyCommand(bad, { dryRun: false, json: false }, noIpvs, io)).toBe(1);
    expect(io.stderr).toContain(`${bad}:1:`);
    expect(io.stderr).not.toContain('no IPVS');

    let closed = 0;
    const backend = createMemoryBackend();
    const opened = async () => ({ ...backend, close: () => closed++ });
    expect(await applyCommand(bad, { dryRun: false, json: false }, opened, capture())).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(1);
  });
});

describe('ipvsctl list (in-memory kernel)', () => {
  it('prints the ipvsadm -Ln layout', async () => {
    const backend = createMemoryBackend();
    await backend.apply([
      {
        kind: 'add-service',
        service: {
          key: addressService('inet', 'tcp', '203.0.113.100', 80),
          scheduler: 'rr',
          persistence: { timeoutS: 300, netmask: '255.255.255.0' },
          flags: 0,
        },
      },
      {
        kind: 'add-destination',
        key: addressService('inet', 'tcp', '203.0.113.100', 80),
        destination: {
          address: '198.51.100.11',
          port: 8080,
          forwarding: 'nat',
          weight: 3,
          upperThreshold: 0,
          lowerThreshold: 0,
        },
      },
    ]);
    const io = capture();
    expect(await listCommand({ json: false, stats: false }, async () => backend, io)).toBe(0);
    expect(io.stdout).toBe(
      [
        'IP Virtual Server version 1.2.1 (size=4096)',
        'Prot LocalAddress:Port Scheduler Flags',
        '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
        'TCP  203.0.113.100:80 rr persistent 300 mask 255.255.255.0',
        '  -> 198.51.100.11:8080           Masq    3      0          0',
        '',
      ].join('\n'),
    );
  });
});
