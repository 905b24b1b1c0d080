/**
 * Link state (up/down, present/gone) of named interfaces, pushed by the kernel: an rtnetlink
 * socket joined to RTNLGRP_LINK receives an RTM_NEWLINK for every flag change and an
 * RTM_DELLINK when an interface goes away, so VRRP trackers react within one event-loop turn and
 * nothing polls.
 *
 * Its own socket, not rtnetlink.ts's: notifications arriving in the middle of a multipart dump
 * would break node-netlink's reassembly of it, and the VIP requests queued there must not delay
 * a fault. Here only single-message requests are made (RTM_GETLINK by name, no dump), so
 * notifications and replies interleave harmlessly, in the order the kernel queued them.
 *
 * "Up" is IFF_UP and IFF_RUNNING (administratively up and carrier present), as keepalived judges
 * a tracked interface. A notification carries the whole state of the link, so the newest one
 * wins; the reply to the initial query is applied only if no notification for that name arrived
 * while it was in flight (anything that came later on the same socket is at least as new).
 *
 * The callbacks given to node-netlink only parse and record; listeners run from a microtask and
 * their throws are caught, because a throw inside a node-netlink listener aborts the process
 * (DESIGN §7).
 */
import { createRtNetlink, type NetlinkMessage, rt } from 'netlink';
import { isErrno, toNetlinkError } from './netlink-errors.js';

/** <linux/rtnetlink.h> */
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
/** <linux/rtnetlink.h> enum rtnetlink_groups */
export const RTNLGRP_LINK = 1;

export interface LinkState {
  readonly ifname: string;
  /** Null while no interface has this name. */
  readonly ifindex: number | null;
  /** IFF_UP and IFF_RUNNING; false while absent. */
  readonly up: boolean;
}

export type LinkListener = (state: LinkState) => void;

export interface LinkMonitor {
  /** Starts watching `ifname` (idempotent) and resolves with its current state. */
  watch(ifname: string): Promise<LinkState>;
  /** Stops reporting `ifname`. */
  unwatch(ifname: string): void;
  /** The last known state of a watched interface. */
  current(ifname: string): LinkState | undefined;
  /** Called with the new state whenever a watched interface changes (up, down, gone, new index). */
  onChange(listener: LinkListener): () => void;
  close(): void;
}

/** What the monitor needs of node-netlink's rtnetlink socket; tests inject a fake. */
export interface LinkSocket {
  addMembership(group: number): void;
  getLink(data: rt.Link, attrs: { ifname: string }, options: { timeout: number }): Promise<rt.LinkMessage[]>;
  readonly socket: {
    on(event: 'message', listener: (messages: NetlinkMessage[]) => void): unknown;
    on(event: 'error', listener: (error: Error) => void): unknown;
    close(): void;
  };
}

export interface LinkMonitorDeps {
  readonly openSocket?: () => LinkSocket;
  /** Reports socket failures (e.g. ENOBUFS: notifications were lost; the monitor re-queries). */
  readonly onError?: (error: Error) => void;
  readonly timeoutMs?: number;
}

/** A link notification as the monitor reads it (pure; exported for tests). */
export interface LinkEvent {
  readonly ifindex: number;
  /** Null when the message carried no IFLA_IFNAME. */
  readonly ifname: string | null;
  readonly deleted: boolean;
  readonly up: boolean;
}

/** Reads one RTM_NEWLINK / RTM_DELLINK; null for anything else. */
export function linkEventOf(type: number, message: rt.LinkMessage): LinkEvent | null {
  if (type !== RTM_NEWLINK && type !== RTM_DELLINK) return null;
  const index = message.data.index;
  if (index === undefined) return null;
  const flags = message.data.flags ?? {};
  return {
    ifindex: index,
    ifname: message.attrs.ifname ?? null,
    deleted: type === RTM_DELLINK,
    up: type === RTM_NEWLINK && flags.up === true && flags.running === true,
  };
}

/**
 * The state of watched interface `ifname` after `event`, or null when the event does not concern
 * it. An event concerns it when it names it, or when it is about the index it had (a rename away
 * or a deletion that carried no name).
 */
export function nextLinkState(previous: LinkState, event: LinkEvent): LinkState | null {
  const gone: LinkState = { ifname: previous.ifname, ifindex: null, up: false };
  if (event.ifname === previous.ifname) {
    return event.deleted ? gone : { ifname: previous.ifname, ifindex: event.ifindex, up: event.up };
  }
  if (previous.ifindex === null || event.ifindex !== previous.ifindex) return null;
  // The index we knew under this name: deleted, renamed away, or (no name given) changed.
  if (event.deleted || event.ifname !== null) return gone;
  return { ifname: previous.ifname, ifindex: event.ifindex, up: event.up };
}

export function sameLinkState(a: LinkState, b: LinkState): boolean {
  return a.ifname === b.ifname && a.ifindex === b.ifindex && a.up === b.up;
}

export function createLinkMonitor(deps: LinkMonitorDeps = {}): LinkMonitor {
  const timeout = deps.timeoutMs ?? 5000;
  const sock = (deps.openSocket ?? (() => createRtNetlink() as unknown as LinkSocket))();
  const states = new Map<string, LinkState>();
  /** Bumped by every notification that touches the name: a stale initial reply checks it. */
  const generations = new Map<string, number>();
  const listeners = new Set<LinkListener>();
  let closed = false;

  function publish(state: LinkState): void {
    queueMicrotask(() => {
      if (closed || !states.has(state.ifname)) return;
      for (const listener of listeners) {
        try {
          listener(state);
        } catch (error) {
          deps.onError?.(error as Error);
        }
      }
    });
  }

  function record(next: LinkState): void {
    const previous = states.get(next.ifname);
    if (previous === undefined) return;
    generations.set(next.ifname, (generations.get(next.ifname) ?? 0) + 1);
    if (sameLinkState(previous, next)) return;
    states.set(next.ifname, next);
    publish(next);
  }

  async function query(ifname: string): Promise<LinkState> {
    try {
      const [reply] = await sock.getLink({}, { ifname }, { timeout });
      const index = reply?.data.index;
      if (reply === undefined || index === undefined) return { ifname, ifindex: null, up: false };
      const event = linkEventOf(RTM_NEWLINK, reply);
      return { ifname, ifindex: index, up: event?.up ?? false };
    } catch (error) {
      if (isErrno(toNetlinkError(error, `looking up interface ${ifname}`), 'ENODEV')) {
        return { ifname, ifindex: null, up: false };
      }
      throw toNetlinkError(error, `looking up interface ${ifname}`);
    }
  }

  /** Re-reads a watched name unless a notification overtook the query. */
  async function refresh(ifname: string): Promise<LinkState | undefined> {
    const generation = generations.get(ifname) ?? 0;
    const fresh = await query(ifname);
    if (closed || !states.has(ifname)) return undefined;
    if ((generations.get(ifname) ?? 0) === generation) record(fresh);
    return states.get(ifname);
  }

  // Tiny on purpose (§7): parse, record, defer the listeners.
  sock.socket.on('message', (messages) => {
    try {
      for (const message of messages) {
        if (message.type !== RTM_NEWLINK && message.type !== RTM_DELLINK) continue;
        const event = linkEventOf(message.type, rt.parseLinkMessage(message.data));
        if (event === null) continue;
        for (const state of states.values()) {
          const next = nextLinkState(state, event);
          if (next !== null) record(next);
        }
      }
    } catch (error) {
      deps.onError?.(error as Error);
    }
  });
  sock.socket.on('error', (error) => {
    if (closed) return;
    deps.onError?.(toNetlinkError(error, 'link notifications failed'));
    // ENOBUFS: the kernel dropped notifications. Read every watched link again.
    queueMicrotask(() => {
      for (const ifname of states.keys()) {
        refresh(ifname).catch((e: unknown) => deps.onError?.(e as Error));
      }
    });
  });
  sock.addMembership(RTNLGRP_LINK);

  return {
    async watch(ifname) {
      const known = states.get(ifname);
      if (known !== undefined) return known;
      // Registered before the query so notifications during it are seen (and win over the reply).
      states.set(ifname, { ifname, ifindex: null, up: false });
      const generation = generations.get(ifname) ?? 0;
      const fresh = await query(ifname);
      const now = states.get(ifname);
      if (now === undefined) return fresh;
      if ((generations.get(ifname) ?? 0) === generation) {
        states.set(ifname, fresh);
        return fresh;
      }
      return now;
    },
    unwatch(ifname) {
      states.delete(ifname);
      generations.delete(ifname);
    },
    current: (ifname) => states.get(ifname),
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      sock.socket.close();
    },
  };
}
