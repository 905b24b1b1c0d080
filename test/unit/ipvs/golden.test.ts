/**
 * Golden bytes from the real kernel: test/vm/capture-golden.sh recorded (nlmon + tcpdump, inside the
 * VM) what ipvsadm sent and what Debian's 6.1 kernel answered. Our decoder must read the kernel's
 * replies as the table ipvsadm printed, and our encoder must produce ipvsadm's bytes for every
 * attribute we send (ipvsadm adds a few zero-valued ones we leave out, listed here explicitly).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeDaemon,
  decodeDestination,
  decodeInfo,
  decodeService,
  decodeTimeouts,
  encodeOperation,
  newDaemonRequest,
  timeoutAttrs,
} from '../../../src/ipvs/codec.js';
import * as C from '../../../src/ipvs/constants.js';
import {
  addressService,
  type Destination,
  fwmarkService,
  type IpvsOperation,
} from '../../../src/model/ipvs.js';
import {
  type Attrs,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  type NlMessage,
  parseAttrs,
  parseGenl,
  parseMessages,
} from '../../../src/sys/nlattr.js';

interface Step {
  command: string;
  output: string;
  datagrams: string[];
}
const steps: Record<string, Step> = JSON.parse(
  readFileSync(new URL('./fixtures/ipvsadm-netlink.json', import.meta.url), 'utf8'),
);

const GENL_ID_CTRL = 16;
/** IPVS messages of one step (the family id is whatever the kernel assigned: any type ≥ 17). */
function ipvsMessages(name: string): { requests: NlMessage[]; replies: NlMessage[] } {
  const step = steps[name];
  if (!step) throw new Error(`no golden step ${name}`);
  const all = step.datagrams.flatMap((hex) => parseMessages(Buffer.from(hex, 'hex')).messages);
  const ipvs = all.filter((m) => m.type > GENL_ID_CTRL);
  return {
    requests: ipvs.filter(
      (m) => m.flags & NLM_F_REQUEST && parseGenl(m.payload)?.cmd !== C.IPVS_CMD_GET_INFO,
    ),
    replies: ipvs.filter((m) => !(m.flags & NLM_F_REQUEST)),
  };
}

const genl = (m: NlMessage) => {
  const g = parseGenl(m.payload);
  if (!g) throw new Error('not a genl message');
  return g;
};

/** The one IPVS command ipvsadm sent in a step (GET_INFO, which it always sends first, excluded). */
function theRequest(name: string): { cmd: number; attrs: Attrs } {
  const { requests } = ipvsMessages(name);
  expect(requests).toHaveLength(1);
  return genl(requests[0] as NlMessage);
}

/** Every attribute we encode must appear in ipvsadm's request with the same bytes. */
function expectSubsetOf(
  ours: Attrs,
  theirs: Attrs,
  nestedTypes: readonly number[],
  allowedExtra: Record<number, readonly number[]>,
) {
  for (const [type, value] of ours) {
    const other = theirs.get(type);
    expect(other, `attribute ${type}`).toBeDefined();
    if (nestedTypes.includes(type)) {
      const o = parseAttrs(value);
      const t = parseAttrs(other as Buffer);
      for (const [inner, v] of o)
        expect(t.get(inner)?.toString('hex'), `attribute ${type}.${inner}`).toBe(v.toString('hex'));
      const extra = [...t.keys()].filter((k) => !o.has(k));
      expect(extra.sort(), `attributes ipvsadm adds in ${type}`).toEqual(
        [...(allowedExtra[type] ?? [])].sort(),
      );
    } else {
      expect(other?.toString('hex'), `attribute ${type}`).toBe(value.toString('hex'));
    }
  }
}

function ourAttrs(op: IpvsOperation): Attrs {
  return parseAttrs(Buffer.concat(encodeOperation(op).attrs));
}

const NESTED = [C.IPVS_CMD_ATTR_SERVICE, C.IPVS_CMD_ATTR_DEST, C.IPVS_CMD_ATTR_DAEMON];
/** ipvsadm sends the whole service in destination commands; the kernel needs only its key. */
const FULL_SERVICE_REST = [
  C.IPVS_SVC_ATTR_SCHED_NAME,
  C.IPVS_SVC_ATTR_FLAGS,
  C.IPVS_SVC_ATTR_TIMEOUT,
  C.IPVS_SVC_ATTR_NETMASK,
];
/** Tunnel attributes (zero unless forwarding is tun with GUE/GRE), which we do not send. */
const TUN = [C.IPVS_DEST_ATTR_TUN_TYPE, C.IPVS_DEST_ATTR_TUN_PORT, C.IPVS_DEST_ATTR_TUN_FLAGS];

const web = addressService('inet', 'tcp', '192.0.2.1', 80);
const dest = (address: string, port: number, extra: Partial<Destination> = {}): Destination => ({
  address,
  port,
  forwarding: 'nat',
  weight: 1,
  upperThreshold: 0,
  lowerThreshold: 0,
  ...extra,
});

describe('our requests carry the bytes ipvsadm sends', () => {
  it.each<[string, IpvsOperation, Record<number, readonly number[]>]>([
    [
      'new-service-tcp',
      { kind: 'add-service', service: { key: web, scheduler: 'wrr', persistence: null, flags: 0 } },
      {},
    ],
    [
      'set-service-persistent',
      {
        kind: 'edit-service',
        service: {
          key: web,
          scheduler: 'rr',
          persistence: { timeoutS: 300, netmask: '255.255.255.0' },
          flags: 0,
        },
      },
      {},
    ],
    [
      'new-service-udp6-flags',
      {
        kind: 'add-service',
        service: {
          key: addressService('inet6', 'udp', '2001:db8::1', 53),
          scheduler: 'sh',
          persistence: null,
          flags: C.IP_VS_SVC_F_SCHED1 | C.IP_VS_SVC_F_SCHED2,
        },
      },
      {},
    ],
    [
      'new-service-fwmark',
      {
        kind: 'add-service',
        service: {
          key: fwmarkService('inet', 7),
          scheduler: 'rr',
          persistence: { timeoutS: 60, netmask: '255.255.255.255' },
          flags: 0,
        },
      },
      {},
    ],
    [
      'new-service-sctp',
      {
        kind: 'add-service',
        service: {
          key: addressService('inet', 'sctp', '192.0.2.2', 9),
          scheduler: 'lc',
          persistence: null,
          flags: 0,
        },
      },
      {},
    ],
    [
      'new-dest-nat',
      { kind: 'add-destination', key: web, destination: dest('198.51.100.1', 8080, { weight: 3 }) },
      { [C.IPVS_CMD_ATTR_SERVICE]: FULL_SERVICE_REST, [C.IPVS_CMD_ATTR_DEST]: TUN },
    ],
    [
      'set-dest-thresholds',
      {
        kind: 'edit-destination',
        key: web,
        destination: dest('198.51.100.1', 8080, { weight: 5, upperThreshold: 100, lowerThreshold: 10 }),
      },
      { [C.IPVS_CMD_ATTR_SERVICE]: FULL_SERVICE_REST, [C.IPVS_CMD_ATTR_DEST]: TUN },
    ],
    [
      'new-dest-dr',
      { kind: 'add-destination', key: web, destination: dest('198.51.100.2', 80, { forwarding: 'dr' }) },
      { [C.IPVS_CMD_ATTR_SERVICE]: FULL_SERVICE_REST, [C.IPVS_CMD_ATTR_DEST]: TUN },
    ],
    [
      'new-dest6',
      {
        kind: 'add-destination',
        key: addressService('inet6', 'udp', '2001:db8::1', 53),
        destination: dest('2001:db8:1::5', 5353, { weight: 2 }),
      },
      { [C.IPVS_CMD_ATTR_SERVICE]: FULL_SERVICE_REST, [C.IPVS_CMD_ATTR_DEST]: TUN },
    ],
    [
      'new-dest-fwmark',
      { kind: 'add-destination', key: fwmarkService('inet', 7), destination: dest('198.51.100.3', 0) },
      { [C.IPVS_CMD_ATTR_SERVICE]: FULL_SERVICE_REST, [C.IPVS_CMD_ATTR_DEST]: TUN },
    ],
    [
      'del-dest',
      { kind: 'delete-destination', key: web, destination: { address: '198.51.100.2', port: 80 } },
      {
        [C.IPVS_CMD_ATTR_SERVICE]: FULL_SERVICE_REST,
        [C.IPVS_CMD_ATTR_DEST]: [
          ...TUN,
          C.IPVS_DEST_ATTR_FWD_METHOD,
          C.IPVS_DEST_ATTR_WEIGHT,
          C.IPVS_DEST_ATTR_U_THRESH,
          C.IPVS_DEST_ATTR_L_THRESH,
        ],
      },
    ],
    [
      'del-service',
      { kind: 'delete-service', key: addressService('inet', 'sctp', '192.0.2.2', 9) },
      { [C.IPVS_CMD_ATTR_SERVICE]: FULL_SERVICE_REST },
    ],
    ['set-config', { kind: 'set-timeouts', timeouts: { tcpS: 901, tcpFinS: 121, udpS: 301 } }, {}],
  ])('%s', (name, op, extra) => {
    const theirs = theRequest(name);
    expect(encodeOperation(op).cmd).toBe(theirs.cmd);
    expectSubsetOf(ourAttrs(op), theirs.attrs, NESTED, extra);
    // …and nothing at the top level that ipvsadm did not send.
    expect([...ourAttrs(op).keys()].sort()).toEqual([...theirs.attrs.keys()].sort());
  });

  it('new-service-tcp is byte for byte what ipvsadm sends', () => {
    const { requests } = ipvsMessages('new-service-tcp');
    const theirs = (requests[0] as NlMessage).payload.subarray(4).toString('hex');
    const ours = Buffer.concat(
      encodeOperation({
        kind: 'add-service',
        service: { key: web, scheduler: 'wrr', persistence: null, flags: 0 },
      }).attrs,
    );
    expect(ours.toString('hex')).toBe(theirs);
  });

  it('new-daemon', () => {
    const theirs = theRequest('new-daemon');
    const ours = parseAttrs(
      Buffer.concat(newDaemonRequest({ state: 'master', interface: 'lo', syncId: 5 }).attrs),
    );
    expect(theirs.cmd).toBe(C.IPVS_CMD_NEW_DAEMON);
    const t = parseAttrs(theirs.attrs.get(C.IPVS_CMD_ATTR_DAEMON) as Buffer);
    for (const [k, v] of parseAttrs(ours.get(C.IPVS_CMD_ATTR_DAEMON) as Buffer))
      expect(t.get(k)?.toString('hex')).toBe(v.toString('hex'));
  });

  it('set-config carries the three timeouts in ipvsadm order', () => {
    const theirs = theRequest('set-config');
    expect(Buffer.concat(timeoutAttrs({ tcpS: 901, tcpFinS: 121, udpS: 301 })).toString('hex')).toBe(
      [...theirs.attrs.entries()]
        .map(([t, v]) => Buffer.concat([Buffer.from([8, 0, t, 0]), v]).toString('hex'))
        .join(''),
    );
  });
});

describe('the kernel replies decode to the table ipvsadm printed', () => {
  it('GET_INFO', () => {
    const { replies } = ipvsMessages('list');
    const info = replies.map(genl).find((g) => g.cmd === C.IPVS_CMD_SET_INFO);
    expect(info && decodeInfo(info.attrs)).toEqual({ version: '1.2.1', connTableSize: 4096 });
    expect(steps.list?.output).toContain('IP Virtual Server version 1.2.1 (size=4096)');
  });

  it('GET_SERVICE dump and GET_DEST dumps', () => {
    const { replies } = ipvsMessages('list');
    const services = replies
      .filter((m) => m.type !== NLMSG_DONE && m.type !== NLMSG_ERROR)
      .map(genl)
      .filter((g) => g.cmd === C.IPVS_CMD_NEW_SERVICE)
      .map((g) => decodeService(g.attrs));
    expect(
      services.map(
        (s) => s && { key: s.key, scheduler: s.scheduler, persistence: s.persistence, flags: s.flags },
      ),
    ).toEqual(
      expect.arrayContaining([
        {
          key: addressService('inet6', 'udp', '2001:db8::1', 53),
          scheduler: 'sh',
          persistence: null,
          flags: C.IP_VS_SVC_F_SCHED1 | C.IP_VS_SVC_F_SCHED2,
        },
        { key: addressService('inet', 'sctp', '192.0.2.2', 9), scheduler: 'lc', persistence: null, flags: 0 },
        { key: web, scheduler: 'rr', persistence: { timeoutS: 300, netmask: '255.255.255.0' }, flags: 0 },
        {
          key: fwmarkService('inet', 7),
          scheduler: 'rr',
          persistence: { timeoutS: 60, netmask: '255.255.255.255' },
          flags: 0,
        },
      ]),
    );
    expect(services).toHaveLength(4);
    const dests = replies
      .map(genl)
      .filter((g) => g.cmd === C.IPVS_CMD_NEW_DEST)
      .map((g) => decodeDestination(g.attrs, 'inet'));
    expect(dests).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          ...dest('198.51.100.1', 8080, { weight: 5, upperThreshold: 100, lowerThreshold: 10 }),
          activeConns: 0,
        }),
        expect.objectContaining(dest('198.51.100.2', 80, { forwarding: 'dr' })),
        expect.objectContaining(dest('2001:db8:1::5', 5353, { weight: 2 })),
        expect.objectContaining(dest('198.51.100.3', 0)),
      ]),
    );
    expect(dests).toHaveLength(4);
    // ipvsadm printed the same table
    const out = steps.list?.output ?? '';
    expect(out).toContain('TCP  192.0.2.1:80 rr persistent 300 mask 255.255.255.0');
    expect(out).toMatch(/-> 198\.51\.100\.1:8080\s+Masq\s+5\s+0\s+0/);
  });

  it('GET_CONFIG', () => {
    const { replies } = ipvsMessages('get-config');
    const g = replies.map(genl).find((r) => r.cmd === C.IPVS_CMD_SET_CONFIG);
    expect(g && decodeTimeouts(g.attrs)).toEqual({ tcpS: 901, tcpFinS: 121, udpS: 301 });
  });

  it('GET_DAEMON', () => {
    const { replies } = ipvsMessages('get-daemon');
    const daemons = replies
      .filter((m) => m.type !== NLMSG_DONE && m.type !== NLMSG_ERROR)
      .map(genl)
      .filter((g) => g.cmd === C.IPVS_CMD_NEW_DAEMON)
      .map((g) => decodeDaemon(g.attrs));
    expect(daemons).toEqual([{ state: 'master', interface: 'lo', syncId: 5 }]);
  });
});
