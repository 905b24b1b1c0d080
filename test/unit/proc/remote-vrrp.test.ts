/** The parent's view of the vrrp child: snapshots, requests with replies, a child that goes away. */
import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types.js';
import type { ToVrrp } from '../../../src/proc/protocol.js';
import { createRemoteVrrp, resumeConfig } from '../../../src/proc/remote-vrrp.js';
import type { VrrpSpeakerStatus } from '../../../src/vrrp/speaker.js';

const instance = (name: string) => ({ name, state: 'backup' }) as unknown as Config['vrrpInstances'][number];
const CONFIG = { vrrpInstances: [instance('VI_1'), instance('VI_2')] } as unknown as Config;

const status = (a: 'MASTER' | 'BACKUP', b: 'MASTER' | 'BACKUP'): VrrpSpeakerStatus =>
  ({
    instances: [
      { name: 'VI_1', state: a },
      { name: 'VI_2', state: b },
    ],
    sync_groups: [{ name: 'VG1', state: a }],
  }) as unknown as VrrpSpeakerStatus;

const quiet = { error: () => undefined, info: () => undefined };

describe('resumeConfig', () => {
  it('starts the last masters as master and leaves the rest as configured', () => {
    const next = resumeConfig(CONFIG, status('MASTER', 'BACKUP'));
    expect(next.vrrpInstances.map((i) => [i.name, i.state])).toEqual([
      ['VI_1', 'master'],
      ['VI_2', 'backup'],
    ]);
    expect(resumeConfig(CONFIG, null)).toBe(CONFIG);
  });
});

describe('createRemoteVrrp', () => {
  it('starts each child with the config, a restarted one from the last snapshot; INIT while down', async () => {
    const sent: ToVrrp[] = [];
    const remote = createRemoteVrrp(CONFIG, { send: (m) => sent.push(m) > 0, logger: quiet });
    const started = remote.started();
    remote.receive({ t: 'ready' });
    expect(sent[0]?.req).toEqual({ op: 'start', config: CONFIG });
    remote.receive({ t: 'reply', id: sent[0]?.id, ok: true });
    await started;
    remote.receive({ t: 'snapshot', snapshot: { speaker: status('MASTER', 'BACKUP'), syncDaemon: null } });
    expect(remote.status().instances.map((i) => i.state)).toEqual(['MASTER', 'BACKUP']);

    const failover = remote.failover('VI_1');
    remote.childDown();
    await expect(failover).rejects.toThrow('the vrrp process exited before it answered');
    expect(remote.status().instances.map((i) => i.state)).toEqual(['INIT', 'INIT']);
    expect(remote.status().sync_groups.map((g) => g.state)).toEqual(['INIT']);

    remote.receive({ t: 'ready' });
    const restart = sent.at(-1);
    expect(restart?.req.op).toBe('start');
    const config = (restart?.req as { config: Config }).config;
    expect(config.vrrpInstances.map((i) => i.state)).toEqual(['master', 'backup']);
  });

  it('the stop steps log a failed or unanswered request and resolve', async () => {
    const errors: string[] = [];
    const remote = createRemoteVrrp(CONFIG, {
      send: () => false,
      logger: { error: (f) => errors.push(String((f as { step: string }).step)), info: () => undefined },
    });
    await remote.prepareStop(true);
    await remote.stopSpeaker();
    await remote.finishStop(true);
    expect(errors).toEqual(['prepare-stop', 'stop-speaker', 'finish-stop']);
  });
});
