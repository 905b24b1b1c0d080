// Converts one pcap of an nlmon interface into a JSON member: "name": {command, output, datagrams}.
// Each datagram is hex; direction is in the netlink header (requests carry NLM_F_REQUEST).
import { readFileSync } from 'node:fs';

const [name, command, pcapPath, outputPath] = process.argv.slice(2);
const buf = readFileSync(pcapPath);
const le = buf.readUInt32LE(0) === 0xa1b2c3d4;
const u32 = (o) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
const linktype = u32(20);
const datagrams = [];
for (let off = 24; off + 16 <= buf.length; ) {
  const incl = u32(off + 8);
  let data = buf.subarray(off + 16, off + 16 + incl);
  // LINKTYPE_NETLINK (253) prefixes a 16-byte cooked header (like SLL); strip it.
  if (linktype === 253) data = data.subarray(16);
  datagrams.push(data.toString('hex'));
  off += 16 + incl;
}
process.stdout.write(
  `${JSON.stringify(name)}: ${JSON.stringify({ command, linktype, output: readFileSync(outputPath, 'utf8'), datagrams }, null, 1)}`,
);
