/**
 * Per-interface forwarding (`net.ipv4.conf.IFNAME.forwarding`, `net.ipv6.conf.IFNAME.forwarding`)
 * through /proc/sys. Interface names may contain dots (`eth0.100`), which sysctl's dotted names
 * cannot carry, so the interface's own directory is the root and `forwarding` the name.
 */
import { IpvsdError } from '../errors.js';
import type { Family } from '../model/ipvs.js';
import { createSysctl } from '../sys/sysctl.js';

/** Resolves true when it changed the value. */
export type SetForwarding = (ifname: string, family: Family, on: boolean) => Promise<boolean>;

export function createInterfaceForwarding(root = '/proc/sys'): SetForwarding {
  return (ifname, family, on) => {
    // A name from the config becomes a path: refuse anything that could leave the conf directory.
    if (ifname === '' || ifname === '.' || ifname === '..' || ifname.includes('/'))
      return Promise.reject(new IpvsdError('IPVSD_ERR_USAGE', `not an interface name: "${ifname}"`));
    const dir = `${root}/net/${family === 'inet' ? 'ipv4' : 'ipv6'}/conf/${ifname}`;
    return createSysctl(dir).ensure('forwarding', on ? '1' : '0');
  };
}
