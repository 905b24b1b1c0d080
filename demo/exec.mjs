// demo/exec.mjs — `npm run demo:exec -- NODE COMMAND [ARGS…]`: runs a command inside the site that
// `npm run demo -- --keep` left running (NODE: client, lb1, lb2, rs1, rs2, rs3). `ipvsctl` means
// the built CLI pointed at that director's control socket. The demo may run in a VM, so the request
// travels as a file through the directory the demo watches (the VM's share, or /run/ipvsd-demo).
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [node, ...argv] = process.argv.slice(2);
if (!node || argv.length === 0) {
  process.stderr.write(
    'usage: npm run demo:exec -- NODE COMMAND [ARGS…]   (NODE: client lb1 lb2 rs1 rs2 rs3)\n',
  );
  process.exit(2);
}
const dir = [join(root, '.vm/share/ipvsd-demo'), '/run/ipvsd-demo'].find((d) => existsSync(join(d, 'ready')));
if (!dir) {
  process.stderr.write('demo:exec: no demo is running; start one with: npm run demo -- --keep\n');
  process.exit(2);
}
const id = `${process.pid}-${Date.now()}`;
writeFileSync(join(dir, `${id}.tmp`), JSON.stringify({ node, argv }));
renameSync(join(dir, `${id}.tmp`), join(dir, `${id}.req`));
const res = join(dir, `${id}.res`);
const deadline = Date.now() + 120_000;
const poll = () => {
  if (existsSync(res)) {
    const reply = JSON.parse(readFileSync(res, 'utf8'));
    rmSync(res, { force: true });
    process.stdout.write(reply.stdout);
    process.stderr.write(reply.stderr);
    process.exit(reply.code);
  }
  if (Date.now() > deadline) {
    rmSync(join(dir, `${id}.req`), { force: true });
    process.stderr.write('demo:exec: no answer from the demo within 120 s (is it still running?)\n');
    process.exit(1);
  }
  setTimeout(poll, 100);
};
poll();
