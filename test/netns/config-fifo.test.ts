/**
 * Issue 14: a FIFO at the config path wedged reload for good (later SIGHUPs ignored, `ipvsctl
 * reload` timing out) and then SIGTERM never exited. The config reader opens non-blocking and refuses
 * anything but a regular file, so check, start and reload all refuse a FIFO at once and the daemon
 * stays answerable. Here (not in the unit tier) because making a FIFO takes mkfifo(1), and the daemon
 * runs in a namespace of its own so its metrics port and sysctls are nobody else's.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IPVSCTL, IPVSD } from '../support/ipvsd-daemon.js';
import { createNetnsLab, run } from '../support/netns.js';

const lab = createNetnsLab();
const dir = await lab.tempDir('ipvsd-fifo-');
afterAll(() => lab.cleanup());

function fifo(name: string): string {
  const path = join(dir, name);
  rmSync(path, { force: true });
  execFileSync('mkfifo', [path]);
  return path;
}

describe('a FIFO at the config path', () => {
  it('ipvsctl check and convert refuse it at once (exit 2), with no writer ever coming', async () => {
    const path = fifo('check.yaml');
    for (const command of ['check', 'convert']) {
      const started = performance.now();
      const r = await run(process.execPath, [IPVSCTL, command, path], { timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(`ipvsctl: cannot read ${path}: a FIFO, not a regular file\n`);
      // Node's own start-up is most of it; a blocked open would hit the 30 s timeout above.
      expect(performance.now() - started).toBeLessThan(20_000);
    }
  });

  it('the daemon refuses it at start, and a reload through it changes nothing and leaves the daemon answerable', async () => {
    const ns = await lab.namespace('fifo');
    const config = join(dir, 'ipvsd.yaml');
    const socket = join(dir, 'control.sock');
    const good = [
      'director:',
      '  router_id: fifo-test',
      '  ip_forward: false',
      `  control_socket: ${socket}`,
      '  metrics: { listen: "127.0.0.1:19469" }',
      '',
    ].join('\n');

    const startFifo = fifo('start.yaml');
    const refused = await lab.exec(ns, process.execPath, [IPVSD, '--config', startFifo], {
      timeoutMs: 30_000,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${startFifo}: cannot read: a FIFO, not a regular file`);

    writeFileSync(config, good);
    const daemon = lab.spawn(ns, process.execPath, [IPVSD, '--config', config]);
    await daemon.waitForOutput('"msg":"ipvsd started"', 60_000);
    const reload = () =>
      run(process.execPath, [IPVSCTL, '--socket', socket, 'reload'], { timeoutMs: 30_000 });

    unlinkSync(config);
    fifo('ipvsd.yaml');
    const viaFifo = await reload();
    expect(viaFifo.code, viaFifo.stdout + viaFifo.stderr).toBe(1);
    expect(viaFifo.stdout + viaFifo.stderr).toContain('a FIFO, not a regular file');
    daemon.child.kill('SIGHUP');
    await daemon.waitForOutput('reload refused: the running config stays', 30_000);

    // The FIFO left nothing behind: the next reload of a real file goes through.
    rmSync(config);
    writeFileSync(config, good);
    const again = await reload();
    expect(again.code, again.stdout + again.stderr).toBe(0);

    const exit = await daemon.kill('SIGTERM', 30_000);
    expect(exit.signal ?? exit.code).toBe(0);
  });
});
