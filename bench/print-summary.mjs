#!/usr/bin/env node
/** Prints the summary of a bench-apply.json written by bench/guest/apply-vs-ipvsadm.sh. */
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node bench/print-summary.mjs bench-apply.json\n');
  process.exit(2);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
const f = (ms) => `${(ms / 1000).toFixed(2)} s`;
const fs = (list) => list.map(f).join(', ');
const target = (value, max, failed) =>
  failed ? 'not comparable: ipvsctl failed' : value <= max ? 'meets the target' : 'misses the target';
/** node's start, loading yaml, and its Lexer+Parser+Composer on the file: what any apply pays first. */
const yamlFloorMs = (x) =>
  x.nodeStartupMs + x.yamlFloor.importYamlMs + x.yamlFloor.lexerParserMs + x.yamlFloor.composerMs;
const row = (label, value, rest) => `  ${label.padEnd(34)}${value.padStart(9)}   ${rest}`;
const lines = [
  '',
  `IPVS apply benchmark (VM, qemu TCG; kernel ${r.kernel}, ${r.cpus} vCPU, node ${r.node}, ${r.ipvsadm})`,
  `table: ${r.services} TCP services × ${r.destinations / r.services} NAT destinations ` +
    `(${r.rulesBytes} B ipvsadm rules, ${r.yamlBytes} B YAML); median of ${r.repetitions}, fresh netns each; ` +
    `host load at start ${r.hostLoadAtStart || '?'}`,
  `project ${r.project ?? '?'} at ${r.commit ?? '?'}; ipvsctl run from a tmpfs copy of its runtime files ` +
    '(installed on local storage); the 9p tree is the secondary row',
  '',
  row(
    'ipvsadm -R < rules',
    f(r.ipvsadmRestoreMs),
    `samples ${fs(r.ipvsadmRestoreSamplesMs)}; cpu ${r.ipvsadmRestoreCpuS.join(', ')} s`,
  ),
  row(
    'ipvsctl apply cfg.yaml (local copy)',
    f(r.ipvsctlApplyMs),
    `samples ${fs(r.ipvsctlApplySamplesMs)}; cpu ${r.ipvsctlApplyCpuS.join(', ')} s`,
  ),
  row(
    'ipvsctl apply (no-op re-apply)',
    f(r.ipvsctlNoopMs),
    `samples ${fs(r.ipvsctlNoopSamplesMs)}; cpu ${r.ipvsctlNoopCpuS.join(', ')} s; --json ${f(r.ipvsctlNoopJsonMs)}` +
      (r.ipvsctlNoopFailed ? `; FAILED ${r.ipvsctlNoopFailed}×` : ''),
  ),
  row(
    'ipvsctl apply cfg.yaml (9p tree)',
    f(r.ipvsctlApply9pMs),
    `samples ${fs(r.ipvsctlApply9pSamplesMs)}; cpu ${r.ipvsctlApply9pCpuS.join(', ')} s; ` +
      `ratio to ipvsadm per repetition ${r.ratioApply9pOverAdmPerRep.map((x) => x.toFixed(2)).join(', ')}`,
  ),
  '',
  row(
    'ratio ipvsctl / ipvsadm',
    r.ratioApplyCtlOverAdm.toFixed(2),
    `per repetition ${r.ratioApplyCtlOverAdmPerRep.map((x) => x.toFixed(2)).join(', ')}; ` +
      `median per repetition ${r.ratioApplyCtlOverAdmMedianPerRep.toFixed(2)}; ` +
      `bound ≤ 1.5: ${target(r.ratioApplyCtlOverAdmMedianPerRep, 1.5, r.ipvsctlApplyFailed)}`,
  ),
  row(
    'ratio no-op / apply',
    r.ratioNoopOverApply.toFixed(2),
    `per repetition ${r.ratioNoopOverApplyPerRep.map((x) => x.toFixed(2)).join(', ')}; ` +
      '(context: no bound)',
  ),
  '',
  `  context: node -e 0 ${f(r.nodeStartupMs)}; ipvsctl --version ${f(r.ipvsctlVersionMs)} ` +
    `(from the 9p tree: ${f(r.ipvsctlVersion9pMs)}); ipvsadm -Sn of the full table ${f(r.ipvsadmSaveMs)}`,
  ...(r.yamlFloor
    ? [
        `  yaml alone on the file, cold, fresh process (bench/yaml-floor.mjs, median of ${r.yamlFloor.runs}): ` +
          `import ${f(r.yamlFloor.importYamlMs)}, Lexer ${f(r.yamlFloor.lexerMs)}, Lexer+Parser ` +
          `${f(r.yamlFloor.lexerParserMs)}, Composer ${f(r.yamlFloor.composerMs)}; node -e 0 + import + ` +
          `Lexer+Parser + Composer = ${f(yamlFloorMs(r))} = ${(yamlFloorMs(r) / r.ipvsadmRestoreMs).toFixed(2)}× ` +
          'ipvsadm -R (the floor under ipvsctl apply before any validation or kernel work)',
      ]
    : []),
  `  tables identical (sorted ipvsadm -Sn, ${r.services} services / ${r.destinations} destinations): ` +
    `${r.tablesIdentical}; problems: ${r.failures}`,
];
const p = r.profile;
if (p) {
  lines.push(
    '',
    `ipvsctl apply, step by step (bench/profile-apply.mjs, one run; node boot ${p.nodeBootMs} ms):`,
  );
  const width = Math.max(...p.steps.map((s) => s.step.length));
  for (const s of p.steps)
    lines.push(
      `  ${s.step.padEnd(width)}  ${String(s.ms).padStart(9)} ms${s.error ? `  FAILED: ${s.error}` : ''}`,
    );
  lines.push(
    `  total ${p.totalMs} ms in-script, max RSS ${p.maxRssMb} MB, ${p.operations} operations ` +
      `(${p.failedOperations} failed), no-op diff ${p.noopOperations} operations`,
  );
}
process.stdout.write(`${lines.join('\n')}\n\nfull results: ${file}\n`);
