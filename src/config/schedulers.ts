/**
 * The service flags that tune IPVS schedulers, as the config names them (the scheduler names
 * themselves are model/ipvs.ts SCHEDULERS). The flag values are the kernel's (IP_VS_SVC_F_* in <linux/ip_vs.h>); SCHED1..2 mean different things
 * for sh and mh, which is why each named flag is tied to the scheduler it belongs to.
 */
import { IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_SCHED1, IP_VS_SVC_F_SCHED2 } from '../ipvs/constants.js';
import type { Scheduler } from '../model/ipvs.js';
import type { SchedulerFlag } from './types.js';

export interface SchedulerFlagInfo {
  readonly bit: number;
  /** The scheduler the flag belongs to; null for ops, which depends on the protocol instead. */
  readonly scheduler: Scheduler | null;
}

/** SCHED1 is IP_VS_SVC_F_SCHED_SH_FALLBACK / _MH_FALLBACK, SCHED2 is _SH_PORT / _MH_PORT. */
export const SCHEDULER_FLAGS: Readonly<Record<SchedulerFlag, SchedulerFlagInfo>> = {
  'sh-fallback': { bit: IP_VS_SVC_F_SCHED1, scheduler: 'sh' },
  'sh-port': { bit: IP_VS_SVC_F_SCHED2, scheduler: 'sh' },
  'mh-fallback': { bit: IP_VS_SVC_F_SCHED1, scheduler: 'mh' },
  'mh-port': { bit: IP_VS_SVC_F_SCHED2, scheduler: 'mh' },
  ops: { bit: IP_VS_SVC_F_ONEPACKET, scheduler: null },
};

export const SCHEDULER_FLAG_NAMES = Object.keys(SCHEDULER_FLAGS) as SchedulerFlag[];

/** The IP_VS_SVC_F_* bits for a list of named flags. */
export function schedulerFlagBits(flags: readonly SchedulerFlag[]): number {
  return flags.reduce((bits, flag) => bits | SCHEDULER_FLAGS[flag].bit, 0);
}
