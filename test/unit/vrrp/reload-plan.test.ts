/** reload-plan.ts: which units a reload keeps, updates in place, restarts, stops and starts. */
import { describe, expect, it } from 'vitest';
import { planReload } from '../../../src/vrrp/reload-plan.js';
import { configFrom, instanceYaml } from './speaker-harness.js';

function config(instances: string, extra = ''): ReturnType<typeof configFrom> {
  return configFrom(`vrrp_instances:${instances}\n${extra}`);
}

const names = (units: readonly { name: string }[]) => units.map((u) => u.name).sort();

describe('planReload', () => {
  const base =
    instanceYaml({ name: 'VI_1', priority: 100 }) +
    instanceYaml({ name: 'VI_2', priority: 100, vrid: 52, iface: 'eth1', vip: '198.51.100.100/24' });

  it('an identical config keeps everything and updates nothing', () => {
    const plan = planReload(config(base), config(base));
    expect(names(plan.kept)).toEqual(['VI_1', 'VI_2']);
    expect(plan.updated).toEqual([]);
    expect(plan.stopped).toEqual([]);
    expect(plan.started).toEqual([]);
  });

  it('priority, VIPs, interval, preemption and trackers are updated in place', () => {
    const next =
      instanceYaml({
        name: 'VI_1',
        priority: 150,
        vip: '203.0.113.101/24',
        interval: '2s',
        preempt: false,
        extra: '    track_interfaces: [eth3]\n',
      }) + instanceYaml({ name: 'VI_2', priority: 100, vrid: 52, iface: 'eth1', vip: '198.51.100.100/24' });
    const plan = planReload(config(base), config(next));
    expect(names(plan.kept)).toEqual(['VI_1', 'VI_2']);
    expect(plan.updated).toEqual(['VI_1']);
    expect(plan.stopped).toEqual([]);
    expect(plan.started).toEqual([]);
  });

  it('a new VRID, interface, version or owner-ness restarts the instance', () => {
    for (const changed of [
      instanceYaml({ name: 'VI_1', priority: 100, vrid: 60 }),
      instanceYaml({ name: 'VI_1', priority: 100, iface: 'eth2' }),
      instanceYaml({ name: 'VI_1', priority: 100, version: 3 }),
      instanceYaml({ name: 'VI_1', priority: 255 }),
    ]) {
      const next =
        changed +
        instanceYaml({ name: 'VI_2', priority: 100, vrid: 52, iface: 'eth1', vip: '198.51.100.100/24' });
      const plan = planReload(config(base), config(next));
      expect(names(plan.stopped)).toEqual(['VI_1']);
      expect(names(plan.started)).toEqual(['VI_1']);
      expect(names(plan.kept)).toEqual(['VI_2']);
    }
  });

  it('removed instances stop, new ones start', () => {
    const next =
      instanceYaml({ name: 'VI_1', priority: 100 }) +
      instanceYaml({ name: 'VI_3', priority: 100, vrid: 53, iface: 'eth1', vip: '198.51.100.101/24' });
    const plan = planReload(config(base), config(next));
    expect(names(plan.stopped)).toEqual(['VI_2']);
    expect(names(plan.started)).toEqual(['VI_3']);
    expect(names(plan.kept)).toEqual(['VI_1']);
  });

  it('forming a sync group restarts its members; an unchanged group is kept and its members updated', () => {
    const group = 'vrrp_sync_groups:\n  VG1: { instances: [VI_1, VI_2] }\n';
    const formed = planReload(config(base), config(base, group));
    expect(names(formed.stopped)).toEqual(['VI_1', 'VI_2']);
    expect(formed.started.map((u) => u.key)).toEqual(['group:VG1']);

    const bumped =
      instanceYaml({ name: 'VI_1', priority: 120 }) +
      instanceYaml({ name: 'VI_2', priority: 100, vrid: 52, iface: 'eth1', vip: '198.51.100.100/24' });
    const kept = planReload(config(base, group), config(bumped, group));
    expect(kept.kept.map((u) => u.key)).toEqual(['group:VG1']);
    expect(kept.updated).toEqual(['VI_1']);
    expect(kept.stopped).toEqual([]);
  });

  it('reports scripts whose definition changed', () => {
    const scripts = (interval: string) =>
      `vrrp_scripts:\n  chk: { script: /bin/true, interval: ${interval}, timeout: 1s, rise: 1, fall: 1, weight: -10 }\n  other: { script: /bin/true, interval: 1s, timeout: 1s, rise: 1, fall: 1, weight: 0 }\n`;
    const plan = planReload(config(base, scripts('1s')), config(base, scripts('2s')));
    expect(plan.changedScripts).toEqual(['chk']);
  });
});
