/**
 * Fakes for the VRRP speaker: an in-memory link that joins the sockets of several speakers
 * (multicast to every other member, unicast to the one holding the address), an rtnetlink that
 * keeps addresses in a map, and recorders for announcements and notify scripts.
 */
import pino from 'pino';
import { afterEach, beforeEach, vi } from 'vitest';
import type { Config } from '../../../src/config/index.js';
import { parseConfig } from '../../../src/config/index.js';
import type { LinkListener, LinkState } from '../../../src/sys/link-monitor.js';
import type { InterfaceAddress } from '../../../src/sys/rtnetlink.js';
import type { VrrpPacket, VrrpSocketOptions } from '../../../src/sys/vrrp-socket.js';
import type { NotifyRequest } from '../../../src/vrrp/notify.js';
import type { ScriptOutcome } from '../../../src/vrrp/script-runner.js';
import {
  createVrrpSpeaker,
  type SpeakerLinks,
  type SpeakerRtnetlink,
  type SpeakerSocket,
  type VrrpSpeaker,
  type VrrpSpeakerDeps,
} from '../../../src/vrrp/speaker.js';

export const silentLogger = pino({ level: 'silent' });

interface Member {
  readonly node: FakeNode;
  readonly options: VrrpSocketOptions;
  closed: boolean;
  /** Packets the "kernel" holds for this socket while the link is holding (see hold()). */
  readonly queue: VrrpPacket[];
  /** What the socket reports as the kernel's drops (tests set it). */
  drops: number;
}

export interface FakeLink {
  /** Delivers raw bytes to every open socket on `ifname` as if `source` had sent them. */
  inject(
    ifname: string,
    payload: Uint8Array,
    source: string,
    options?: { ttl?: number; destination?: string; receivedAt?: number },
  ): void;
  /** Cut (or restore) the link: nothing is delivered while down. */
  setUp(up: boolean): void;
  /**
   * While holding, packets wait in each socket's queue, as in the kernel while the event loop is
   * stalled: only the socket's receivePending() delivers them; hold(false) delivers the rest.
   */
  hold(on: boolean): void;
  readonly members: Member[];
  attach(member: Member): void;
  deliver(from: Member | null, ifname: string, packet: VrrpPacket): void;
}

export interface FakeNode {
  readonly name: string;
  /** ifname → primary address (IPv4, /24). */
  readonly primaries: Record<string, string>;
  /** ifname → extra addresses (cidr): the VIPs. */
  readonly extra: Map<string, Set<string>>;
  readonly announced: { ifname: string; address: string }[];
  readonly notified: NotifyRequest[];
  speaker: VrrpSpeaker;
  vips(ifname?: string): string[];
  /** Link states (default: every interface up, index 2); setLink() reports a change. */
  readonly links: FakeLinks;
  /** Outcome of the next runs of a script by its argv[0] (default: success). */
  readonly scriptResults: Map<string, boolean>;
  /** argv[0] of every script run, in order. */
  readonly scriptRuns: string[];
}

export interface FakeLinks extends SpeakerLinks {
  set(ifname: string, up: boolean, ifindex?: number | null): void;
  watched(): string[];
}

export function createFakeLinks(): FakeLinks {
  const states = new Map<string, LinkState>();
  const watched = new Set<string>();
  const listeners = new Set<LinkListener>();
  const stateOf = (ifname: string): LinkState => states.get(ifname) ?? { ifname, ifindex: 2, up: true };
  return {
    async watch(ifname) {
      watched.add(ifname);
      return stateOf(ifname);
    },
    unwatch(ifname) {
      watched.delete(ifname);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {},
    set(ifname, up, ifindex) {
      const next: LinkState = {
        ifname,
        ifindex: ifindex === undefined ? (stateOf(ifname).ifindex ?? 2) : ifindex,
        up,
      };
      states.set(ifname, next);
      if (!watched.has(ifname)) return;
      queueMicrotask(() => {
        for (const listener of listeners) listener(next);
      });
    },
    watched: () => [...watched].sort(),
  };
}

export function createFakeLink(): FakeLink {
  const members: Member[] = [];
  let up = true;
  let holding = false;
  const deliver = (from: Member | null, ifname: string, packet: VrrpPacket) => {
    if (!up) return;
    for (const m of members) {
      if (m === from || m.closed || m.options.ifname !== ifname) continue;
      if (packet.destination !== '224.0.0.18' && m.node.primaries[ifname] !== packet.destination) continue;
      if (holding) {
        m.queue.push(packet);
        continue;
      }
      // Asynchronously, like a real socket.
      queueMicrotask(() => {
        if (!m.closed) m.options.onPacket(packet);
      });
    }
  };
  return {
    members,
    setUp(value) {
      up = value;
    },
    hold(on) {
      holding = on;
      if (on) return;
      for (const m of members) {
        for (const packet of m.queue.splice(0)) {
          queueMicrotask(() => {
            if (!m.closed) m.options.onPacket(packet);
          });
        }
      }
    },
    inject(ifname, payload, source, options = {}) {
      deliver(null, ifname, {
        payload: Buffer.from(payload),
        source,
        destination: options.destination ?? '224.0.0.18',
        ttl: options.ttl ?? 255,
        ifindex: 2,
        ...(options.receivedAt === undefined ? {} : { receivedAt: options.receivedAt }),
      });
    },
    attach(member) {
      members.push(member);
    },
    deliver,
  };
}

function attach(link: FakeLink, node: FakeNode) {
  const internal = link;
  return (options: VrrpSocketOptions): SpeakerSocket => {
    const member: Member = { node, options, closed: false, queue: [], drops: 0 };
    internal.attach(member);
    return {
      send(payload, destination = '224.0.0.18') {
        if (member.closed) return new Error('closed');
        const source = options.sourceAddress ?? node.primaries[options.ifname] ?? '0.0.0.0';
        internal.deliver(member, options.ifname, {
          payload: Buffer.from(payload),
          source,
          destination,
          ttl: 255,
          ifindex: 2,
        });
        return undefined;
      },
      receivePending() {
        for (const packet of member.queue.splice(0)) if (!member.closed) options.onPacket(packet);
      },
      drops: () => member.drops,
      close() {
        member.closed = true;
      },
    };
  };
}

function fakeRtnetlink(node: FakeNode): SpeakerRtnetlink {
  const set = (ifname: string) => {
    let s = node.extra.get(ifname);
    if (s === undefined) {
      s = new Set();
      node.extra.set(ifname, s);
    }
    return s;
  };
  return {
    async ensureAddress(ifname, cidr) {
      const s = set(ifname);
      if (s.has(cidr)) return false;
      s.add(cidr);
      return true;
    },
    async ensureNoAddress(ifname, cidr) {
      return set(ifname).delete(cidr);
    },
    async listAddresses(ifname) {
      const out: InterfaceAddress[] = [];
      const names = ifname === undefined ? Object.keys(node.primaries) : [ifname];
      for (const name of names) {
        const primary = node.primaries[name];
        const base = {
          ifname: name,
          ifindex: 2,
          family: 'inet' as const,
          scope: 0,
          tentative: false,
          dadFailed: false,
        };
        if (primary !== undefined)
          out.push({ ...base, address: primary, prefixLength: 24, secondary: false });
        for (const cidr of set(name)) {
          const [address = '', len = '32'] = cidr.split('/');
          out.push({ ...base, address, prefixLength: Number(len), secondary: true });
        }
      }
      return out;
    },
    close() {},
  };
}

export function configFrom(yaml: string): Config {
  const { config, issues } = parseConfig(yaml, 'test.yaml', { hostname: 'node' });
  if (config === null) throw new Error(`bad test config: ${JSON.stringify(issues)}`);
  return config;
}

export function createFakeNode(
  link: FakeLink,
  name: string,
  primaries: Record<string, string>,
  yaml: string,
  options: {
    preexisting?: Record<string, string[]>;
    wallClock?: () => number;
    onTakeoverStep?: VrrpSpeakerDeps['onTakeoverStep'];
  } = {},
): FakeNode {
  const node: FakeNode = {
    name,
    primaries,
    extra: new Map(Object.entries(options.preexisting ?? {}).map(([k, v]) => [k, new Set(v)])),
    announced: [],
    notified: [],
    speaker: undefined as unknown as VrrpSpeaker,
    vips(ifname = 'eth0') {
      return [...(node.extra.get(ifname) ?? [])].sort();
    },
    links: createFakeLinks(),
    scriptResults: new Map(),
    scriptRuns: [],
  };
  node.speaker = createVrrpSpeaker(configFrom(yaml), {
    logger: silentLogger,
    now: () => Date.now(),
    ...(options.wallClock === undefined ? {} : { wallClock: options.wallClock }),
    ...(options.onTakeoverStep === undefined ? {} : { onTakeoverStep: options.onTakeoverStep }),
    rtnetlink: fakeRtnetlink(node),
    openSocket: attach(link, node),
    announce: (ifname, address) => {
      node.announced.push({ ifname, address });
      return undefined;
    },
    runNotify: (request) => node.notified.push(request),
    links: node.links,
    runScript: async (argv): Promise<ScriptOutcome> => {
      const cmd = argv[0] ?? '';
      node.scriptRuns.push(cmd);
      const ok = node.scriptResults.get(cmd) ?? true;
      return ok ? { ok: true, reason: null } : { ok: false, reason: 'exit status 1' };
    },
  });
  return node;
}

export function instanceYaml(o: {
  name?: string;
  priority: number;
  preempt?: boolean;
  vrid?: number;
  iface?: string;
  vip?: string;
  version?: 2 | 3;
  interval?: string;
  extra?: string;
}): string {
  return `
  ${o.name ?? 'VI_1'}:
    state: backup
    interface: ${o.iface ?? 'eth0'}
    virtual_router_id: ${o.vrid ?? 51}
    priority: ${o.priority}
    advert_int: ${o.interval ?? '1s'}
    version: ${o.version ?? 2}
    preempt: ${o.preempt ?? true}
    virtual_ipaddresses: ["${o.vip ?? '203.0.113.100/24'}"]
${o.extra ?? ''}`;
}

/**
 * Per test of the calling `describe`: fake timers and a fresh link, handed to `onLink`; afterwards
 * every node in the returned list (push the nodes a test starts) is stopped and real timers return.
 */
export function fakeLinkPerTest(onLink: (link: FakeLink) => void): FakeNode[] {
  const started: FakeNode[] = [];
  beforeEach(() => {
    vi.useFakeTimers();
    onLink(createFakeLink());
  });
  afterEach(async () => {
    for (const node of started.splice(0)) await node.speaker.stop();
    vi.useRealTimers();
  });
  return started;
}
