/**
 * The vm project runs only inside the qemu guest that test/vm/run.sh boots (IPVSD_VM=1), where the
 * kernel has IPVS; anywhere else it fails loudly instead of skipping. dist/ is built on the host
 * before the VM boots (the guest sees the repository read-only).
 */
import { assertNetnsCapable, sweepStaleNamespaces } from '../support/netns.js';

export default async function setup(): Promise<void> {
  if (process.env.IPVSD_VM !== '1')
    throw new Error(
      'the vm tests need kernel IPVS: run them with `npm run test:vm` (boots a VM), not directly',
    );
  assertNetnsCapable();
  await sweepStaleNamespaces();
}
