import { describe, expect, it } from 'vitest';
import { IpvsdError, NetlinkError } from '../../../src/errors.js';
import { createMemoryBackend } from '../../../src/ipvs/memory-backend.js';
import {
  addressService,
  type Destination,
  fwmarkService,
  type IpvsOperation,
  type VirtualService,
  ZERO_STATS,
} from '../../../src/model/ipvs.js';

const vip = addressService('inet', 'tcp', '203.0.113.100', 80);
const vip6 = addressService('inet6', 'tcp', '2001:DB8:0::1', 80);
const web: VirtualService = { key: vip, scheduler: 'wrr', persistence: null, flags: 0 };
const rs1: Destination = {
  address: '198.51.100.11',
  port: 8080,
  forwarding: 'nat',
  weight: 1,
  upperThreshold: 0,
  lowerThreshold: 0,
};
const rs2: Destination = { ...rs1, address: '198.51.100.12' };

const addWeb: IpvsOperation = { kind: 'add-service', service: web };
const addRs1: IpvsOperation = { kind: 'add-destination', key: vip, destination: rs1 };

/** errno name of each result, null for success. */
async function outcomes(ops: IpvsOperation[], setup: IpvsOperation[] = []): Promise<(string | null)[]> {
  const backend = createMemoryBackend();
  await backend.apply(setup);
  const results = await backend.apply(ops);
  return results.map((r) =>
    r.error instanceof NetlinkError ? r.error.errnoName : r.error === null ? null : 'other',
  );
}

describe('memory backend: kernel error rules', () => {
  it.each<[string, IpvsOperation[], IpvsOperation[], (string | null)[]]>([
    ['add-service of a new key', [], [addWeb], [null]],
    ['add-service of an existing key is EEXIST', [addWeb], [addWeb], ['EEXIST']],
    [
      'the same key spelled differently is the same service',
      [{ kind: 'add-service', service: { ...web, key: vip6 } }],
      [{ kind: 'add-service', service: { ...web, key: addressService('inet6', 'tcp', '2001:db8::1', 80) } }],
      ['EEXIST'],
    ],
    ['edit-service of a missing service is ESRCH', [], [{ kind: 'edit-service', service: web }], ['ESRCH']],
    ['delete-service of a missing service is ESRCH', [], [{ kind: 'delete-service', key: vip }], ['ESRCH']],
    ['add-destination to a missing service is ESRCH', [], [addRs1], ['ESRCH']],
    [
      'edit-destination in a missing service is ESRCH',
      [],
      [{ ...addRs1, kind: 'edit-destination' }],
      ['ESRCH'],
    ],
    [
      'delete-destination in a missing service is ESRCH',
      [],
      [{ kind: 'delete-destination', key: vip, destination: rs1 }],
      ['ESRCH'],
    ],
    ['duplicate destination is EEXIST', [addWeb, addRs1], [addRs1], ['EEXIST']],
    [
      'edit of a missing destination is ENOENT',
      [addWeb],
      [{ ...addRs1, kind: 'edit-destination' }],
      ['ENOENT'],
    ],
    [
      'delete of a missing destination is ENOENT',
      [addWeb],
      [{ kind: 'delete-destination', key: vip, destination: rs1 }],
      ['ENOENT'],
    ],
    [
      'unknown scheduler on add is ENOENT',
      [],
      [{ kind: 'add-service', service: { ...web, scheduler: 'nope' } }],
      ['ENOENT'],
    ],
    [
      'unknown scheduler on edit is ENOENT',
      [addWeb],
      [{ kind: 'edit-service', service: { ...web, scheduler: 'nope' } }],
      ['ENOENT'],
    ],
    [
      'negative weight is ERANGE',
      [addWeb],
      [{ kind: 'add-destination', key: vip, destination: { ...rs1, weight: -1 } }],
      ['ERANGE'],
    ],
    [
      'lower threshold above upper is ERANGE',
      [addWeb],
      [{ kind: 'add-destination', key: vip, destination: { ...rs1, upperThreshold: 5, lowerThreshold: 6 } }],
      ['ERANGE'],
    ],
    [
      'a fwmark service is distinct per family',
      [{ kind: 'add-service', service: { ...web, key: fwmarkService('inet', 7) } }],
      [{ kind: 'add-service', service: { ...web, key: fwmarkService('inet6', 7) } }],
      [null],
    ],
    [
      'apply continues after a failure and reports each result',
      [],
      [addRs1, addWeb, addWeb, addRs1, { kind: 'delete-service', key: fwmarkService('inet', 1) }],
      ['ESRCH', null, 'EEXIST', null, 'ESRCH'],
    ],
    [
      'negative timeout is EINVAL',
      [],
      [{ kind: 'set-timeouts', timeouts: { tcpS: -1, tcpFinS: 0, udpS: 0 } }],
      ['EINVAL'],
    ],
  ])('%s', async (_name, setup, ops, expected) => {
    expect(await outcomes(ops, setup)).toEqual(expected);
  });

  it('errors are NetlinkErrors with errno and the kernel-rejected code', async () => {
    const backend = createMemoryBackend();
    const [result] = await backend.apply([addWeb]);
    expect(result?.error).toBeNull();
    const [again] = await backend.apply([addWeb]);
    const error = again?.error;
    expect(error).toBeInstanceOf(NetlinkError);
    expect(error).toMatchObject({ code: 'IPVSD_ERR_KERNEL_REJECTED', errno: 17, errnoName: 'EEXIST' });
    expect(error?.message).toContain('tcp/203.0.113.100:80');
  });

  it('counts accepted operations and keeps a history', async () => {
    const backend = createMemoryBackend();
    await backend.apply([addWeb, addWeb, addRs1]);
    expect(backend.appliedCount()).toBe(2);
    expect(backend.history().map((r) => r.operation.kind)).toEqual([
      'add-service',
      'add-service',
      'add-destination',
    ]);
  });
});

describe('memory backend: state', () => {
  it('applies add, edit and delete of services and destinations', async () => {
    const backend = createMemoryBackend();
    await backend.apply([
      addWeb,
      addRs1,
      { kind: 'add-destination', key: vip, destination: rs2 },
      {
        kind: 'edit-service',
        service: { ...web, scheduler: 'sh', persistence: { timeoutS: 60, netmask: '24' }, flags: 0x8 | 0x2 },
      },
      { kind: 'edit-destination', key: vip, destination: { ...rs2, weight: 0 } },
      { kind: 'delete-destination', key: vip, destination: { address: rs1.address, port: rs1.port } },
    ]);
    const [service, ...rest] = await backend.dump();
    expect(rest).toEqual([]);
    expect(service).toMatchObject({
      key: vip,
      scheduler: 'sh',
      persistence: { timeoutS: 60, netmask: '255.255.255.0' },
      flags: 0x8,
    });
    expect(service?.destinations).toEqual([
      { ...rs2, weight: 0, activeConns: 0, inactiveConns: 0, persistConns: 0, stats: expect.any(Object) },
    ]);

    await backend.apply([{ kind: 'delete-service', key: vip }]);
    expect(await backend.dump()).toEqual([]);
  });

  it('dumps canonical addresses and zeroed counters', async () => {
    const backend = createMemoryBackend();
    await backend.apply([
      { kind: 'add-service', service: { ...web, key: vip6 } },
      { kind: 'add-destination', key: vip6, destination: { ...rs1, address: '2001:DB8:1:0::A' } },
    ]);
    const [service] = await backend.dump();
    expect(service?.key.address).toBe('2001:db8::1');
    expect(service?.destinations[0]?.address).toBe('2001:db8:1::a');
    expect(service?.stats.conns).toBe(0);
    expect(service?.destinations[0]).toMatchObject({ activeConns: 0, inactiveConns: 0, persistConns: 0 });
    expect(Object.values(service?.destinations[0]?.stats ?? {}).every((v) => v === 0)).toBe(true);
  });

  it('dumps deep copies', async () => {
    const backend = createMemoryBackend();
    await backend.apply([addWeb, addRs1]);
    const first = await backend.dump();
    const mutable = first as unknown as { scheduler: string; destinations: { weight: number }[] }[];
    if (mutable[0]) {
      mutable[0].scheduler = 'rr';
      if (mutable[0].destinations[0]) mutable[0].destinations[0].weight = 99;
    }
    const second = await backend.dump();
    expect(second[0]?.scheduler).toBe('wrr');
    expect(second[0]?.destinations[0]?.weight).toBe(1);
  });

  it('holds the initial table and keeps its counters', async () => {
    const backend = createMemoryBackend([
      {
        ...web,
        stats: { ...ZERO_STATS, conns: 5 },
        destinations: [{ ...rs1, activeConns: 2, inactiveConns: 1, persistConns: 0, stats: ZERO_STATS }],
      },
    ]);
    const [service] = await backend.dump();
    expect(service?.stats.conns).toBe(5);
    expect(service?.destinations[0]?.activeConns).toBe(2);
  });

  it('sets counters for tests and zeroes them', async () => {
    const backend = createMemoryBackend();
    await backend.apply([addWeb, addRs1]);
    backend.setServiceStats(vip, { conns: 10, inBytes: 1000 });
    backend.setDestinationCounters(vip, rs1, { activeConns: 4, inactiveConns: 2, stats: { conns: 10 } });
    let [service] = await backend.dump();
    expect(service?.stats).toMatchObject({ conns: 10, inBytes: 1000 });
    expect(service?.destinations[0]).toMatchObject({
      activeConns: 4,
      inactiveConns: 2,
      stats: { conns: 10 },
    });

    await backend.zero(vip);
    [service] = await backend.dump();
    expect(service?.stats.conns).toBe(0);
    expect(service?.destinations[0]?.stats.conns).toBe(0);
    // Zeroing resets statistics, not the live connection counts.
    expect(service?.destinations[0]?.activeConns).toBe(4);

    await expect(backend.zero(fwmarkService('inet', 1))).rejects.toMatchObject({ errnoName: 'ESRCH' });
    expect(() => backend.setDestinationCounters(vip, rs2, { activeConns: 1 })).toThrow(/ENOENT/);
  });

  it('stores a nat destination at a director address as local', async () => {
    const backend = createMemoryBackend([], { localAddresses: ['203.0.113.100'] });
    await backend.apply([
      addWeb,
      { kind: 'add-destination', key: vip, destination: { ...rs1, address: '203.0.113.100' } },
      { kind: 'add-destination', key: vip, destination: rs2 },
    ]);
    const [service] = await backend.dump();
    expect(service?.destinations.map((d) => d.forwarding)).toEqual(['local', 'nat']);
  });

  it('flushes every service', async () => {
    const backend = createMemoryBackend();
    await backend.apply([
      addWeb,
      { kind: 'add-service', service: { ...web, key: fwmarkService('inet', 3) } },
    ]);
    await backend.flush();
    expect(await backend.dump()).toEqual([]);
  });

  it('has the default timeouts; 0 in set-timeouts keeps a value', async () => {
    const backend = createMemoryBackend();
    expect(await backend.timeouts()).toEqual({ tcpS: 900, tcpFinS: 120, udpS: 300 });
    await backend.apply([{ kind: 'set-timeouts', timeouts: { tcpS: 600, tcpFinS: 0, udpS: 60 } }]);
    expect(await backend.timeouts()).toEqual({ tcpS: 600, tcpFinS: 120, udpS: 60 });
  });

  it('reports info', async () => {
    expect(await createMemoryBackend().info()).toEqual({ version: '1.2.1', connTableSize: 4096 });
  });

  it('starts and stops sync daemons with the kernel errnos', async () => {
    const backend = createMemoryBackend();
    const master = { state: 'master', interface: 'eth1', syncId: 51 } as const;
    await backend.startDaemon(master);
    await backend.startDaemon({ ...master, state: 'backup' });
    await expect(backend.startDaemon(master)).rejects.toMatchObject({ errno: 17, errnoName: 'EEXIST' });
    expect(await backend.daemons()).toEqual([master, { ...master, state: 'backup' }]);
    await backend.stopDaemon('master');
    await expect(backend.stopDaemon('master')).rejects.toMatchObject({ errno: 3, errnoName: 'ESRCH' });
    expect(await backend.daemons()).toEqual([{ ...master, state: 'backup' }]);
  });

  it('rejects every call after close', async () => {
    const backend = createMemoryBackend();
    backend.close();
    expect(backend.isClosed()).toBe(true);
    await expect(backend.dump()).rejects.toBeInstanceOf(IpvsdError);
    await expect(backend.apply([addWeb])).rejects.toMatchObject({ code: 'IPVSD_ERR_NETLINK' });
  });
});
