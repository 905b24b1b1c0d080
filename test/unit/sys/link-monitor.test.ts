/**
 * The link monitor against a fake rtnetlink socket: notifications (RTM_NEWLINK / RTM_DELLINK as
 * node-netlink delivers them, raw) change the watched state; a notification that arrives while
 * the initial query is in flight wins over its reply; renames and deletions make a name absent.
 */
import { type NetlinkMessage, rt } from 'netlink';
import { describe, expect, it } from 'vitest';
import {
  createLinkMonitor,
  type LinkSocket,
  type LinkState,
  linkEventOf,
  nextLinkState,
  RTM_DELLINK,
  RTM_NEWLINK,
  RTNLGRP_LINK,
} from '../../../src/sys/link-monitor.js';

const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;

function linkMessage(type: number, index: number, ifname: string, flags: number): NetlinkMessage {
  const data = Buffer.alloc(16);
  data.writeUInt8(0, 0); // AF_UNSPEC
  data.writeUInt16LE(1, 2); // ARPHRD_ETHER
  data.writeInt32LE(index, 4);
  data.writeUInt32LE(flags, 8);
  const name = Buffer.from(`${ifname}\0`);
  const attr = Buffer.alloc(4 + Math.ceil(name.length / 4) * 4);
  attr.writeUInt16LE(4 + name.length, 0);
  attr.writeUInt16LE(3, 2); // IFLA_IFNAME
  name.copy(attr, 4);
  return { type, flags: 0, seq: 0, port: 0, data: Buffer.concat([data, attr]) } as NetlinkMessage;
}

function fakeSocket(links: Map<string, { index: number; flags: number }>) {
  const handlers: { message?: (m: NetlinkMessage[]) => void } = {};
  const groups: number[] = [];
  const replies: (() => void)[] = [];
  let hold = false;
  const socket: LinkSocket = {
    addMembership: (g) => groups.push(g),
    getLink(_data, attrs) {
      const answer = () => {
        const link = links.get(attrs.ifname);
        if (link === undefined) return Promise.reject(new Error('Request rejected: ENODEV'));
        return Promise.resolve([
          rt.parseLinkMessage(linkMessage(RTM_NEWLINK, link.index, attrs.ifname, link.flags).data),
        ]);
      };
      if (!hold) return answer();
      return new Promise((resolve, reject) => replies.push(() => answer().then(resolve, reject)));
    },
    socket: {
      on(event: string, listener: (x: never) => void) {
        if (event === 'message') handlers.message = listener as (m: NetlinkMessage[]) => void;
        return undefined;
      },
      close() {},
    },
  };
  return {
    socket,
    groups,
    notify: (m: NetlinkMessage) => handlers.message?.([m]),
    holdReplies: (on: boolean) => {
      hold = on;
    },
    release: () => {
      for (const r of replies.splice(0)) r();
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('link notifications (pure)', () => {
  const up = IFF_UP | IFF_RUNNING;
  const event = (type: number, index: number, name: string, flags: number) =>
    linkEventOf(type, rt.parseLinkMessage(linkMessage(type, index, name, flags).data));

  it('up means IFF_UP and IFF_RUNNING', () => {
    expect(event(RTM_NEWLINK, 3, 'eth1', up)).toEqual({
      ifindex: 3,
      ifname: 'eth1',
      deleted: false,
      up: true,
    });
    expect(event(RTM_NEWLINK, 3, 'eth1', IFF_UP)?.up).toBe(false);
    expect(event(RTM_NEWLINK, 3, 'eth1', IFF_RUNNING)?.up).toBe(false);
    expect(event(RTM_DELLINK, 3, 'eth1', up)).toMatchObject({ deleted: true, up: false });
    expect(linkEventOf(20, rt.parseLinkMessage(linkMessage(20, 3, 'eth1', up).data))).toBeNull();
  });

  it.each([
    { what: 'down', ev: [RTM_NEWLINK, 3, 'eth1', IFF_UP], next: { ifindex: 3, up: false } },
    { what: 'deleted', ev: [RTM_DELLINK, 3, 'eth1', 0], next: { ifindex: null, up: false } },
    {
      what: 'renamed away',
      ev: [RTM_NEWLINK, 3, 'wan0', IFF_UP | IFF_RUNNING],
      next: { ifindex: null, up: false },
    },
    {
      what: 're-created with a new index',
      ev: [RTM_NEWLINK, 9, 'eth1', IFF_UP | IFF_RUNNING],
      next: { ifindex: 9, up: true },
    },
    { what: 'another interface', ev: [RTM_NEWLINK, 4, 'eth2', 0], next: null },
  ] as const)('$what', ({ ev, next }) => {
    const previous: LinkState = { ifname: 'eth1', ifindex: 3, up: true };
    const e = event(ev[0], ev[1], ev[2], ev[3]);
    if (e === null) throw new Error('no event');
    const result = nextLinkState(previous, e);
    expect(result).toEqual(next === null ? null : { ifname: 'eth1', ...next });
  });
});

describe('createLinkMonitor', () => {
  it('joins RTNLGRP_LINK, reports the initial state, then follows notifications', async () => {
    const links = new Map([['eth1', { index: 3, flags: IFF_UP | IFF_RUNNING }]]);
    const fake = fakeSocket(links);
    const monitor = createLinkMonitor({ openSocket: () => fake.socket });
    expect(fake.groups).toEqual([RTNLGRP_LINK]);
    expect(await monitor.watch('eth1')).toEqual({ ifname: 'eth1', ifindex: 3, up: true });
    expect(await monitor.watch('eth9')).toEqual({ ifname: 'eth9', ifindex: null, up: false });
    const seen: LinkState[] = [];
    monitor.onChange((s) => seen.push(s));
    fake.notify(linkMessage(RTM_NEWLINK, 3, 'eth1', IFF_UP));
    fake.notify(linkMessage(RTM_NEWLINK, 3, 'eth1', IFF_UP)); // no change: not reported again
    fake.notify(linkMessage(RTM_NEWLINK, 5, 'eth9', IFF_UP | IFF_RUNNING));
    fake.notify(linkMessage(RTM_DELLINK, 3, 'eth1', 0));
    await tick();
    expect(seen).toEqual([
      { ifname: 'eth1', ifindex: 3, up: false },
      { ifname: 'eth9', ifindex: 5, up: true },
      { ifname: 'eth1', ifindex: null, up: false },
    ]);
    monitor.unwatch('eth9');
    fake.notify(linkMessage(RTM_NEWLINK, 5, 'eth9', 0));
    await tick();
    expect(seen).toHaveLength(3);
    monitor.close();
  });

  it('a notification during the initial query wins over its (older) reply', async () => {
    const links = new Map([['eth1', { index: 3, flags: IFF_UP | IFF_RUNNING }]]);
    const fake = fakeSocket(links);
    const monitor = createLinkMonitor({ openSocket: () => fake.socket });
    fake.holdReplies(true);
    const watching = monitor.watch('eth1');
    await tick();
    // The link went down after the kernel answered, but the notification is handled first.
    fake.notify(linkMessage(RTM_NEWLINK, 3, 'eth1', IFF_UP));
    fake.release();
    expect(await watching).toEqual({ ifname: 'eth1', ifindex: 3, up: false });
    expect(monitor.current('eth1')).toEqual({ ifname: 'eth1', ifindex: 3, up: false });
    monitor.close();
  });
});
