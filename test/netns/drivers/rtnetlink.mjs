// Driver for node-agent.mjs: our compiled rtnetlink module, one socket for the agent's lifetime.
import { readFileSync } from 'node:fs';
import { createRtnetlink } from '../../../dist/src/sys/rtnetlink.js';

const rtnl = createRtnetlink({ timeoutMs: 5000 });

export const interfaceIndex = (ifname) => rtnl.interfaceIndex(ifname);
export const listAddresses = (ifname) => rtnl.listAddresses(ifname ?? undefined);
export const hasAddress = (ifname, cidr) => rtnl.hasAddress(ifname, cidr);
export const addAddress = (ifname, cidr, options) => rtnl.addAddress(ifname, cidr, options ?? undefined);
export const removeAddress = (ifname, cidr) => rtnl.removeAddress(ifname, cidr);
export const ensureAddress = (ifname, cidr, options) =>
  rtnl.ensureAddress(ifname, cidr, options ?? undefined);
export const ensureNoAddress = (ifname, cidr) => rtnl.ensureNoAddress(ifname, cidr);
export const close = () => rtnl.close();

/**
 * addAddressesAtOnce, plus what the kernel held the moment the call returned: /proc/net/if_inet6
 * read synchronously, before any reply could be read (IPv4 addresses have no /proc file).
 */
export async function addAddressesAtOnce(addresses) {
  const { sent, done } = rtnl.addAddressesAtOnce(addresses);
  const inet6AtReturn = readFileSync('/proc/net/if_inet6', 'utf8');
  const outcomes = await done;
  return {
    sent,
    inet6AtReturn,
    outcomes: outcomes.map((e) => (e === null ? null : { errnoName: e.errnoName, message: e.message })),
  };
}
