/**
 * The IPVS connection timeouts the config sets, as one operation when the kernel's differ.
 * `readTimeouts` runs only when the config sets any.
 */
import type { IpvsTimeoutSettings } from '../config/types.js';
import type { IpvsOperation, IpvsTimeouts } from '../model/ipvs.js';
import { diffTimeouts } from './diff.js';

export async function timeoutOperation(
  readTimeouts: () => Promise<IpvsTimeouts>,
  settings: IpvsTimeoutSettings,
): Promise<IpvsOperation | null> {
  if (settings.tcpS === null && settings.tcpFinS === null && settings.udpS === null) return null;
  return diffTimeouts(settings, await readTimeouts());
}
