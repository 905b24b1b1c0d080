#!/usr/bin/env node
/**
 * The `yaml` library's own time on a config, in a fresh process, as `ipvsctl apply` meets it: loading
 * the library, then its Lexer, Parser and Composer on the file, each step cold, with the options
 * src/config/yaml-source.ts uses. No ipvsd code runs, so this is the floor under the config half of
 * `ipvsctl apply`: whatever the validators cost comes on top. bench/guest/apply-vs-ipvsadm.sh runs it
 * beside `ipvsadm -R` (what the ratio's bound is measured against).
 *
 * Usage: node bench/yaml-floor.mjs CONFIG.yaml [PROJECT_DIR]
 *   PROJECT_DIR: the tree whose node_modules/yaml is measured (default: this one).
 * Prints one JSON line: {"importYamlMs", "lexerMs", "lexerParserMs", "composerMs", "lexemes"}.
 * lexerParserMs is Parser.parse(), which lexes again (the Lexer now warm), as parsing really does.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const [file, projectDir] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/yaml-floor.mjs CONFIG.yaml [PROJECT_DIR]\n');
  process.exit(2);
}
const project = resolve(projectDir ?? new URL('..', import.meta.url).pathname);
const yamlEntry = createRequire(join(project, 'package.json')).resolve('yaml');
const text = readFileSync(file, 'utf8');
const ms = (t0) => +(performance.now() - t0).toFixed(1);

let t0 = performance.now();
const { Composer, Lexer, Parser } = await import(pathToFileURL(yamlEntry).href);
const importYamlMs = ms(t0);

t0 = performance.now();
let lexemes = 0;
for (const _ of new Lexer().lex(text)) lexemes++;
const lexerMs = ms(t0);

t0 = performance.now();
const tokens = [...new Parser().parse(text)];
const lexerParserMs = ms(t0);

t0 = performance.now();
const docs = [...new Composer({ uniqueKeys: false, prettyErrors: false }).compose(tokens, true, text.length)];
const composerMs = ms(t0);
if (docs.length !== 1 || docs[0].errors.length > 0) {
  process.stderr.write(`yaml-floor: ${file} is not one valid YAML document\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ importYamlMs, lexerMs, lexerParserMs, composerMs, lexemes })}\n`);
