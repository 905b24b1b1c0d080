/**
 * The speaker's VIP work: adding and removing an instance's virtual addresses through rtnetlink,
 * announcing them (gratuitous ARP / unsolicited NA bursts), and the queue that orders it all.
 *
 * Ordering: the steps of the state machine run synchronously, in the order events arrive; the VIP
 * work they ask for is asynchronous (netlink round trips), so each instance queues it
 * (Runtime.vipWork), and an add never overtakes an earlier remove. The announcements of a
 * takeover follow the VIPs being in place, and a repeat burst is skipped if the instance left
 * MASTER meanwhile (Runtime.epoch). The optional transition hook (the director's sync daemon
 * switch) takes a place in the same queues: before the VIPs of a takeover, after the VIPs of a
 * demotion. A takeover is the latency-critical path: the VIPs of every member of a sync group go
 * to the kernel in one datagram, and the gratuitous ARPs follow as soon as the kernel holds them.
 */
import { isErrno } from '../sys/netlink-errors.js';
import { type VipTarget, vipTargets } from './instance.js';
import { enterMasterExtras, leaveMasterExtras } from './speaker-extras.js';
import {
  guarded,
  type Runtime,
  type SpeakerState,
  type Takeover,
  takeoverStep,
  writeHeldLines,
} from './speaker-state.js';
import type { VrrpStateChange } from './speaker-types.js';

/** Queues the transition hook behind the VIP work of `rts` (all of it) and the work after it behind the hook. */
export function queueHook(s: SpeakerState, rts: readonly Runtime[], change: VrrpStateChange): void {
  const hook = s.env.transitionHook;
  if (hook === undefined || rts.length === 0) return;
  const done = Promise.all(rts.map((rt) => rt.vipWork))
    .then(() => hook(change))
    .catch((error: unknown) => s.env.logger.error({ err: error, change }, 'vrrp transition hook failed'));
  for (const rt of rts) rt.vipWork = done;
}

export function queueVipWork(rt: Runtime, work: () => Promise<void>): void {
  rt.vipWork = rt.vipWork.then(work).catch((error: unknown) => {
    rt.log.error({ err: error }, 'vrrp virtual address change failed');
  });
}

export async function addTargets(s: SpeakerState, rt: Runtime, targets: readonly VipTarget[]): Promise<void> {
  if (s.rtnl === null) return;
  for (const { ifname, cidr, label } of targets) {
    try {
      if (await s.rtnl.ensureAddress(ifname, cidr, label !== undefined ? { label } : undefined)) {
        rt.log.info({ address: cidr, interface: ifname }, 'virtual address added');
      }
    } catch (error) {
      rt.log.error({ err: error, address: cidr, interface: ifname }, 'virtual address not added');
    }
  }
}

export async function removeTargets(
  s: SpeakerState,
  rt: Runtime,
  targets: readonly VipTarget[],
): Promise<void> {
  if (s.rtnl === null) return;
  for (const { ifname, cidr } of targets) {
    try {
      if (await s.rtnl.ensureNoAddress(ifname, cidr)) {
        rt.log.info({ address: cidr, interface: ifname }, 'virtual address removed');
      }
    } catch (error) {
      // A vanished interface took its addresses with it.
      if (isErrno(error, 'ENODEV')) continue;
      rt.log.error({ err: error, address: cidr, interface: ifname }, 'virtual address not removed');
    }
  }
}

/** Leaving MASTER: the routes and rules first (they may use the addresses), then the addresses. */
export async function removeVips(s: SpeakerState, rt: Runtime): Promise<void> {
  await leaveMasterExtras(s, rt);
  await removeTargets(s, rt, vipTargets(rt.config));
}

/** The known index of `ifname` (null: unknown, so the takeover takes the slow path). */
function indexOf(s: SpeakerState, rt: Runtime, ifname: string): number | null {
  const known = s.currentLinks.get(ifname)?.ifindex;
  if (known !== undefined && known !== null) return known;
  return ifname === rt.config.interface ? rt.entry.ifindex : null;
}

/** Queues the VIP work of instances that became master together, behind their earlier work and hooks. */
export function queueTakeover(s: SpeakerState, list: readonly Takeover[]): void {
  const rts = list.map((t) => t.rt);
  const done = Promise.all(rts.map((rt) => rt.vipWork))
    .then(() => takeover(s, list))
    .catch((error: unknown) => s.env.logger.error({ err: error }, 'vrrp takeover failed'));
  for (const rt of rts) rt.vipWork = done;
}

/**
 * The VIPs of every instance in `list` added, then announced. With addAddressesAtOnce and known
 * interface indexes all of them go to the kernel in one datagram; when the kernel has executed
 * it by the time the call returns (the usual case), the announcements go out at once and the
 * replies are read afterwards. Otherwise (no index, the datagram queued, no batch support) each
 * instance is announced once its VIPs are confirmed, as before. An address the batch could not
 * add is tried again through ensureAddress (EEXIST: checked, not an error); other failures are
 * logged as before. An instance that left MASTER meanwhile is not announced.
 */
async function takeover(s: SpeakerState, list: readonly Takeover[]): Promise<void> {
  const batchAdd = s.rtnl?.addAddressesAtOnce?.bind(s.rtnl);
  const batched: Takeover[] = [];
  const requests: { t: Takeover; target: VipTarget; ifindex: number }[] = [];
  const slow: Takeover[] = [];
  for (const t of list) {
    const targets = vipTargets(t.rt.config);
    const indexes = targets.map((target) => indexOf(s, t.rt, target.ifname));
    // Labels need ensureAddress's options: such instances take the slow path.
    if (
      batchAdd === undefined ||
      indexes.some((i) => i === null) ||
      targets.some((x) => x.label !== undefined)
    ) {
      slow.push(t);
      continue;
    }
    batched.push(t);
    targets.forEach((target, i) => {
      requests.push({ t, target, ifindex: indexes[i] as number });
    });
  }
  let early = false;
  if (batchAdd !== undefined && requests.length > 0) {
    const { sent, done } = batchAdd(
      requests.map(({ target, ifindex }) => ({ ifname: target.ifname, ifindex, cidr: target.cidr })),
    );
    for (const t of batched) takeoverStep(s, 'vips_sent', t.rt.config.name);
    // The kernel holds the addresses already: announce now, read the replies afterwards.
    if (sent) {
      early = true;
      announceTogether(s, batched);
      writeHeldLines(s);
    }
    const outcomes = await done;
    for (const [i, { t, target }] of requests.entries()) {
      const error = outcomes[i] ?? null;
      const rt = t.rt;
      if (error === null) {
        rt.log.info({ address: target.cidr, interface: target.ifname }, 'virtual address added');
      } else if (isErrno(error, 'EEXIST') || isErrno(error, 'ENODEV')) {
        // There already (checked there), or the interface came back under a new index.
        await addTargets(s, rt, [target]);
      } else {
        rt.log.error(
          { err: error, address: target.cidr, interface: target.ifname },
          'virtual address not added',
        );
      }
    }
  }
  for (const t of slow) {
    await addTargets(s, t.rt, vipTargets(t.rt.config));
    takeoverStep(s, 'vips_sent', t.rt.config.name);
  }
  if (!early) announceTogether(s, list);
  else announceTogether(s, slow);
  writeHeldLines(s);
  // Routes and rules after the addresses they may name (keepalived vrrp.c vrrp_state_become_master).
  for (const t of list) if (t.rt.epoch === t.epoch) await enterMasterExtras(s, t.rt);
}

/**
 * The first burst of every instance in `list` still master in its epoch, round by round (each
 * VIP's first announcement before any VIP's second), then each one's repeat burst scheduled.
 */
function announceTogether(s: SpeakerState, list: readonly Takeover[]): void {
  const { announce, garp } = s.env;
  const live = list.filter((t) => t.rt.epoch === t.epoch);
  const failed = new Map<Runtime, Error>();
  for (let i = 0; i < garp.count; i++) {
    for (const { rt } of live) {
      for (const vip of vipTargets(rt.config)) {
        const error = announce(vip.ifname, vip.address);
        if (error !== undefined) failed.set(rt, error);
      }
    }
    // After every VIP's first one: the hook must not hold up the second VIP's.
    if (i === 0) for (const { rt } of live) takeoverStep(s, 'announced', rt.config.name);
  }
  for (const [rt, error] of failed) rt.log.warn({ err: error }, 'address announcement failed');
  for (const { rt, epoch } of live) scheduleRepeat(s, rt, epoch);
}

export function announceBurst(
  s: SpeakerState,
  rt: Runtime,
  epoch: number,
  count: number,
  first: boolean,
): void {
  let failed: Error | undefined;
  for (let i = 0; i < count; i++) {
    for (const vip of vipTargets(rt.config)) {
      const error = s.env.announce(vip.ifname, vip.address);
      if (error !== undefined) failed = error;
    }
  }
  if (failed !== undefined) rt.log.warn({ err: failed }, 'address announcement failed');
  if (first) scheduleRepeat(s, rt, epoch);
}

/** The second burst, `repeatDelayMs` later, if the instance is still master in this epoch. */
function scheduleRepeat(s: SpeakerState, rt: Runtime, epoch: number): void {
  const { garp } = s.env;
  if (garp.repeatCount <= 0) return;
  const handle = s.env.setTimer(() => {
    rt.garpTimers.delete(handle);
    if (rt.epoch === epoch && s.phase === 'running') {
      guarded(s, 'announcement', () => announceBurst(s, rt, epoch, garp.repeatCount, false));
    }
  }, garp.repeatDelayMs);
  rt.garpTimers.add(handle);
}
