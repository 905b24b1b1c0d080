/**
 * What an instance holds beyond its addresses, as keepalived does: the macvlan with the VRRP
 * virtual MAC it runs on (use_vmac, keepalived vrrp_vmac.c netlink_link_add_vmac), and the routes
 * and rules it adds while MASTER (virtual_routes / virtual_rules, keepalived vrrp_iproute.c and
 * vrrp_iprule.c, added after the VIPs in vrrp_state_become_master and removed before them in
 * vrrp_restore_interface). All through rtnetlink (sys/rt-extras.ts) and /proc/sys; failures are
 * logged and the VRRP work goes on.
 */
import { join } from 'node:path';
import type { VrrpInstanceConfig } from '../config/types.js';
import type { Family } from '../model/ipvs.js';
import { vrrpVirtualMac } from '../sys/rt-extras.js';
import { createSysctl } from '../sys/sysctl.js';
import type { Runtime, SpeakerState } from './speaker-state.js';

/**
 * keepalived's settings for a VMAC (vrrp_if_config.c set_interface_parameters): the macvlan
 * accepts adverts from local addresses and with no address of its own (accept_local, rp_filter),
 * and neither it nor the base answers ARP for the other's addresses (arp_ignore, arp_filter), so
 * the VIPs are answered with the virtual MAC only.
 */
const VMAC_SYSCTLS: readonly (readonly [string, string])[] = [
  ['accept_local', '1'],
  ['arp_ignore', '1'],
  ['rp_filter', '0'],
];
const BASE_SYSCTLS: readonly (readonly [string, string])[] = [
  ['arp_ignore', '1'],
  ['arp_filter', '1'],
];

/** Creates the instance's VMAC (kept if there already) before its socket is opened. */
export async function ensureVmac(s: SpeakerState, config: VrrpInstanceConfig, family: Family): Promise<void> {
  const name = config.useVmac;
  if (name === undefined) return;
  const log = s.env.logger.child({ instance: config.name });
  const mac = vrrpVirtualMac(family, config.virtualRouterId);
  if (await s.env.rtExtras.ensureMacvlan(name, config.interface, mac)) {
    log.info({ interface: name, parent: config.interface, mac: formatMac(mac) }, 'vmac interface created');
  }
  if (family !== 'inet') return;
  const root = s.env.procSys;
  for (const [ifname, settings] of [
    [name, VMAC_SYSCTLS],
    [config.interface, BASE_SYSCTLS],
  ] as const) {
    // Names with dots (vrrp.51) cannot go through dotted sysctl names: address the directory.
    const sysctl = createSysctl(join(root, 'net', 'ipv4', 'conf', ifname));
    for (const [key, value] of settings) {
      try {
        await sysctl.ensure(key, value);
      } catch (error) {
        log.warn({ err: error, interface: ifname, key, value }, 'vmac interface setting not applied');
      }
    }
  }
}

/** Deletes the VMAC an instance made (on stop, as keepalived does on exit). */
export async function removeVmac(s: SpeakerState, config: VrrpInstanceConfig): Promise<void> {
  if (config.useVmac === undefined) return;
  try {
    if (await s.env.rtExtras.ensureNoLink(config.useVmac))
      s.env.logger.info({ instance: config.name, interface: config.useVmac }, 'vmac interface removed');
  } catch (error) {
    s.env.logger.warn({ err: error, interface: config.useVmac }, 'vmac interface not removed');
  }
}

export function formatMac(mac: Buffer): string {
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Becoming MASTER: routes, then rules (keepalived vrrp.c vrrp_state_become_master). */
export async function enterMasterExtras(s: SpeakerState, rt: Runtime): Promise<void> {
  const { rtExtras } = s.env;
  for (const route of rt.config.virtualRoutes ?? []) {
    try {
      if (await rtExtras.ensureRoute(route)) rt.log.info({ route }, 'virtual route added');
    } catch (error) {
      rt.log.error({ err: error, route }, 'virtual route not added');
    }
  }
  for (const rule of rt.config.virtualRules ?? []) {
    try {
      if (await rtExtras.ensureRule(rule)) rt.log.info({ rule }, 'virtual rule added');
    } catch (error) {
      rt.log.error({ err: error, rule }, 'virtual rule not added');
    }
  }
}

/** Leaving MASTER (or starting, for what an earlier run left): rules, then routes. */
export async function leaveMasterExtras(
  s: SpeakerState,
  rt: Runtime | { config: VrrpInstanceConfig; log: Runtime['log'] },
): Promise<void> {
  const { rtExtras } = s.env;
  for (const rule of rt.config.virtualRules ?? []) {
    try {
      if (await rtExtras.ensureNoRule(rule)) rt.log.info({ rule }, 'virtual rule removed');
    } catch (error) {
      rt.log.error({ err: error, rule }, 'virtual rule not removed');
    }
  }
  for (const route of rt.config.virtualRoutes ?? []) {
    try {
      if (await rtExtras.ensureNoRoute(route)) rt.log.info({ route }, 'virtual route removed');
    } catch (error) {
      rt.log.error({ err: error, route }, 'virtual route not removed');
    }
  }
}
