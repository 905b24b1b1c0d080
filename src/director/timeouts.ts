/** The IPVS connection timeouts the config sets, as one operation when the kernel's differ. */
import type { IpvsTimeoutSettings } from '../config/types.js';
import type { IpvsBackend } from '../ipvs/backend.js';
import type { IpvsOperation } from '../model/ipvs.js';
import { diffTimeouts } from './diff.js';

export async function timeoutOperation(
  backend: IpvsBackend,
  settings: IpvsTimeoutSettings,
): Promise<IpvsOperation | null> {
  if (settings.tcpS === null && settings.tcpFinS === null && settings.udpS === null) return null;
  return diffTimeouts(settings, await backend.timeouts());
}
