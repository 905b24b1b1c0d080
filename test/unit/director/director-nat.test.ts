/**
 * The director and full NAT: the source-NAT rules are in before the IPVS table changes (a first
 * connection must not leave un-rewritten), follow a reload, show in the status, and go on a stop
 * only when the services go too (DESIGN §6 stop order: services, then their NAT rules).
 */
import { describe, expect, it } from 'vitest';
import type { HealthMonitor } from '../../../src/check/monitor.js';
import { parseConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createDirector } from '../../../src/director/director.js';
import { createMemoryBackend } from '../../../src/ipvs/memory-backend.js';
import { noopMetrics } from '../../../src/metrics/types.js';
import { createMemoryNatBackend } from '../../../src/nat/memory-backend.js';
import { createNatReconciler } from '../../../src/nat/reconciler.js';
import { createLogger } from '../../../src/sys/logger.js';

const silent = createLogger({ level: 'silent' });

function config(fullNat: string | null): Config {
  const { config, issues } = parseConfig(
    `virtual_servers:
  - name: web
    address: 203.0.113.100
    port: 80
${fullNat === null ? '' : `    full_nat: ${fullNat}\n`}    check: { type: none }
    real_servers:
      - { address: 198.51.100.11, port: 8080 }
`,
    'test.yaml',
  );
  expect(issues).toEqual([]);
  return config as Config;
}

const monitor: HealthMonitor = {
  update: () => {},
  status: () => undefined,
  snapshot: () => new Map(),
  onChange: () => () => {},
  onResult: () => () => {},
  stop: async () => {},
};

function setup(c: Config) {
  const order: string[] = [];
  const kernel = createMemoryBackend();
  const apply = kernel.apply.bind(kernel);
  kernel.apply = (ops) => {
    order.push('ipvs');
    return apply(ops);
  };
  const natBackend = createMemoryNatBackend();
  const natApply = natBackend.apply.bind(natBackend);
  natBackend.apply = (services) => {
    order.push(services.length > 0 ? 'nat' : 'nat-removed');
    return natApply(services);
  };
  const nat = createNatReconciler({ backend: natBackend, logger: silent });
  const director = createDirector(c, {
    backend: () => kernel,
    nat,
    monitor,
    metrics: noopMetrics,
    logger: silent,
  });
  return { director, kernel, natBackend, order };
}

describe('director with full NAT', () => {
  it('writes the NAT rules before the IPVS services at start', async () => {
    const { director, order, natBackend } = setup(config('198.51.100.2'));
    await director.start();
    expect(order).toEqual(['nat', 'ipvs']);
    expect(natBackend.table()).toContain('snat ip to 198.51.100.2');
    expect((await director.status(0)).nat).toMatchObject({ table: 'present', rules: 1, errors: 0 });
    await director.stop({ removeServices: false });
  });

  it('follows a reload that turns full NAT off', async () => {
    const { director, natBackend } = setup(config('198.51.100.2'));
    await director.start();
    await director.reload(config(null));
    expect(natBackend.table()).toBeNull();
    await director.stop({ removeServices: false });
  });

  it('keeps the rules when the services stay, removes them after the services otherwise', async () => {
    const kept = setup(config('198.51.100.2'));
    await kept.director.start();
    await kept.director.stop({ removeServices: false });
    expect(kept.natBackend.table()).not.toBeNull();
    expect(await kept.kernel.dump()).toHaveLength(1);

    const removed = setup(config('198.51.100.2'));
    await removed.director.start();
    removed.order.length = 0;
    await removed.director.stop({ removeServices: true });
    expect(removed.order).toEqual(['ipvs', 'nat-removed']);
    expect(removed.natBackend.table()).toBeNull();
    expect(await removed.kernel.dump()).toEqual([]);
  });

  it('repairs a deleted table on a resync, as it does the IPVS table', async () => {
    const { director, natBackend } = setup(config('198.51.100.2'));
    await director.start();
    natBackend.tamper(null);
    await director.resync();
    expect(natBackend.table()).toContain('snat ip to 198.51.100.2');
    expect((await director.status(0)).nat?.drift_repairs).toBe(1);
    await director.stop({ removeServices: false });
  });
});
