// bench/takeover-steps.mjs — the kernel steps of a VRRP takeover, timed one by one in this process
// (run it inside a network namespace made for it, as root, with kernel IPVS: bench/takeover-steps.sh
// does that, in the VM tier). It needs a built dist/ and the native addon. For each of RUNS rounds:
// the sync daemon switch (stop backup + start master) the old way (list, stop, start: three round
// trips) and the new way (one datagram: time until the call returns, i.e. executed, and until the
// reply is read), two VIPs added the old way (ensureAddress each) and the new way (one datagram),
// and ten gratuitous ARPs. Prints a line per step with the median in ms. A benchmark: it reports,
// it never judges. Known: one variant that stopped the master daemon a few ms after starting it
// alone once got no reply within 15 s (not understood; ipvsd never does that back to back).
import { createKernelBackend } from '../dist/src/ipvs/kernel-backend.js';
import { announceAddress } from '../dist/src/sys/garp.js';
import { createRtnetlink } from '../dist/src/sys/rtnetlink.js';

const runs = Number(process.env.IPVSD_BENCH_RUNS ?? 7);
const ifname = process.env.IPVSD_STEPS_IF ?? 'eth0';
const vips = ['203.0.113.100/24', '198.51.100.1/24'];
const backup = { state: 'backup', interface: ifname, syncId: 51 };
const master = { state: 'master', interface: ifname, syncId: 51 };

const ipvs = await createKernelBackend();
const rtnl = createRtnetlink();
rtnl.addAddressesAtOnce([]);
const ifindex = await rtnl.interfaceIndex(ifname);
const times = new Map();
const record = (name, ms) => {
  if (!times.has(name)) times.set(name, []);
  times.get(name).push(ms);
};
const now = () => performance.now();
/** One macrotask: node-netlink has run every send callback, so the next send goes out in the call. */
const idle = () => new Promise((resolve) => setTimeout(resolve, 5));

for (const d of await ipvs.daemons()) await ipvs.stopDaemon(d.state);
for (let i = 0; i < runs; i++) {
  // Old: list, stop backup, start master, one awaited round trip each.
  await ipvs.startDaemon(backup);
  let t = now();
  await ipvs.daemons();
  await ipvs.stopDaemon('backup');
  await ipvs.startDaemon(master);
  record('sync daemon switch, list + stop + start awaited', now() - t);
  await ipvs.stopDaemon('master');

  // New: one datagram. Right after the previous request the socket is usually still busy
  // (node-netlink runs send callbacks a turn later), so most of these sends are queued
  // (sent=false); at a takeover, which starts from a timer, the socket is idle.
  await ipvs.startDaemon(backup);
  t = now();
  const sw = ipvs.switchDaemons([
    { op: 'stop', state: 'backup' },
    { op: 'start', daemon: master },
  ]);
  record(`sync daemon switch, one datagram: until executed (sent=${sw.sent})`, now() - t);
  const outcomes = await sw.done;
  record('sync daemon switch, one datagram: until the reply is read', now() - t);
  if (outcomes.some((o) => o !== null)) throw new Error(`switch refused: ${outcomes.map(String)}`);
  await ipvs.stopDaemon('master');

  // VIPs, old: ensureAddress each (lookup + add).
  t = now();
  for (const cidr of vips) await rtnl.ensureAddress(ifname, cidr);
  record('two VIPs, ensureAddress each', now() - t);
  for (const cidr of vips) await rtnl.ensureNoAddress(ifname, cidr);

  // VIPs, new: one datagram.
  await idle();
  t = now();
  const add = rtnl.addAddressesAtOnce(vips.map((cidr) => ({ ifname, ifindex, cidr })));
  record(`two VIPs, one datagram: until executed (sent=${add.sent})`, now() - t);
  const added = await add.done;
  record('two VIPs, one datagram: until the replies are read', now() - t);
  if (added.some((o) => o !== null)) throw new Error(`add refused: ${added.map(String)}`);

  t = now();
  for (let k = 0; k < 5; k++) for (const cidr of vips) announceAddress(ifname, cidr.split('/')[0]);
  record('ten gratuitous ARPs', now() - t);
  for (const cidr of vips) await rtnl.ensureNoAddress(ifname, cidr);
}
for (const d of await ipvs.daemons()) await ipvs.stopDaemon(d.state);
ipvs.close();
rtnl.close();

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
for (const [name, v] of times)
  console.log(
    `${name.padEnd(72)} median ${median(v).toFixed(2).padStart(8)} ms  (${v.map((x) => x.toFixed(1)).join(' ')})`,
  );
