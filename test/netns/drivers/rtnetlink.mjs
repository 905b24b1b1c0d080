// Driver for node-agent.mjs: our compiled rtnetlink module, one socket for the agent's lifetime.
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
