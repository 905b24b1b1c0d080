// Driver for node-agent.mjs: the compiled route writer of announced VIPs, on one rtnetlink socket.
import { createAnnounceKernel } from '../../../dist/src/sys/announce-routes.js';
import { createRtnetlink } from '../../../dist/src/sys/rtnetlink.js';

const rtnl = createRtnetlink({ timeoutMs: 5000 });
const kernel = createAnnounceKernel(rtnl);

export const listHostRoutes = (table) => rtnl.listHostRoutes(table);
export const addHostRoute = (route, ifname) => rtnl.addHostRoute(route, ifname);
export const removeHostRoute = (route) => rtnl.removeHostRoute(route);
export async function syncRoutes(settings, announced) {
  const r = await kernel.syncRoutes(settings, announced);
  return { added: r.added, removed: r.removed, errors: Object.fromEntries(r.errors) };
}
export async function syncLocalRoutes(settings, vips, removeOthers) {
  const r = await kernel.syncLocalRoutes(settings, vips, removeOthers);
  return {
    added: r.added,
    removed: r.removed,
    alreadyLocal: r.alreadyLocal,
    errors: Object.fromEntries(r.errors),
  };
}
export const close = () => rtnl.close();
