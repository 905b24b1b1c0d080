/**
 * The vocabulary of the VRRP decision core: what a state machine is told (events), what it asks
 * the I/O around it to do (actions), and the one piece of a received packet it needs (`Advert`).
 * Kept apart from the codec so the pure core does not depend on the wire format: the codec's
 * decoded advertisement only has to carry these fields.
 */
import type { InstanceParams } from './state-machine.js';

/** RFC 5798 §6.4 states, plus FAULT (keepalived: a tracked interface or script is down). */
export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

/** What notify scripts are told. STOP: the instance (or group) was shut down. */
export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

/**
 * A validated advertisement, as far as the state machine cares. The codec has already dropped
 * what RFC 5798 §7.1 says to drop (TTL, checksum, version, VRID, auth, v2 interval mismatch).
 */
export interface Advert {
  readonly version: 2 | 3;
  readonly vrid: number;
  /** 0 = the master is leaving (RFC 5798 §6.4.3); 255 = address owner. */
  readonly priority: number;
  /** Centiseconds. v2 carries whole seconds: the codec multiplies by 100. */
  readonly advertIntervalCs: number;
  /** The IP source address of the packet: the sender's primary address, canonical text. */
  readonly srcAddress: string;
  readonly addresses: readonly string[];
}

/**
 * The instance's timers (RFC 5798 §6.2): `advert` (Adver_Timer, MASTER only), `master_down`
 * (Master_Down_Timer, BACKUP only) and `preempt_delay` (keepalived's preempt_delay, BACKUP only).
 */
export type TimerKind = 'advert' | 'master_down' | 'preempt_delay';

export type VrrpEvent =
  /** Leave INIT (RFC 5798 §6.4.1 Startup). */
  | { readonly type: 'startup' }
  /** Stop (RFC 5798 §6.4.2/§6.4.3 Shutdown): back to INIT, priority 0 if we were master. */
  | { readonly type: 'shutdown' }
  | {
      readonly type: 'advert_received';
      readonly advert: Advert;
      /**
       * When the advert arrived (the kernel's receive time, on the step's clock); default: the
       * step's `now`. A backup's master-down timer runs from here, so an advert read late still
       * times the takeover from its arrival. Later than `now` counts as `now`.
       */
      readonly receivedAt?: number;
    }
  | { readonly type: 'master_down_timer_expired' }
  | { readonly type: 'advert_timer_expired' }
  | { readonly type: 'preempt_delay_expired' }
  /** A tracked interface or unweighted script went down; `reason` names it (`interface eth1`). */
  | { readonly type: 'fault'; readonly reason: string }
  /** The tracker named by `reason` recovered. The instance leaves FAULT when no reason is left. */
  | { readonly type: 'fault_cleared'; readonly reason: string }
  /** Weighted track scripts moved the effective priority (base + weights, see effectivePriority()). */
  | { readonly type: 'priority_changed'; readonly priority: number }
  /**
   * Graceful handover (`ipvsctl failover`): a master sends priority 0 and becomes backup; the
   * instance then stops preempting until it is master again, so the peer keeps the mastership.
   */
  | { readonly type: 'force_backup' }
  /** From the sync group only: the whole group may be master now. BACKUP with wantsMaster → MASTER. */
  | { readonly type: 'sync_master' }
  /** From the sync group only: another member left MASTER, so this one leaves too. */
  | { readonly type: 'sync_backup' }
  /**
   * A reload changed the instance's settings (not its identity: same VRID, version, address
   * family and owner-ness). No re-election: a master announces the new settings at once and
   * keeps going. The configured priority takes effect through a following priority_changed.
   */
  | { readonly type: 'reconfigure'; readonly params: InstanceParams };

export type VrrpAction =
  /** Send one advertisement now with this priority (0: we are leaving). */
  | { readonly type: 'send_advert'; readonly priority: number }
  /** Add the VIPs, then the gratuitous ARP / unsolicited NA burst. */
  | { readonly type: 'become_master' }
  /** Remove the VIPs (idempotent: also at startup, for VIPs left by an earlier run). */
  | { readonly type: 'become_backup' }
  /** Remove the VIPs. */
  | { readonly type: 'become_fault' }
  /** Remove the VIPs: the instance stopped. */
  | { readonly type: 'stop' }
  /** Arm (or re-arm: replaces any earlier one) the timer of this kind to fire at `at` (ms, the step's clock). */
  | { readonly type: 'set_timer'; readonly kind: TimerKind; readonly at: number }
  | { readonly type: 'cancel_timer'; readonly kind: TimerKind }
  /** Run the notify script of this state (never blocking the state machine). */
  | { readonly type: 'notify'; readonly state: NotifyState; readonly priority: number };
