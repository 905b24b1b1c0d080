/**
 * `npm run schema`: writes config/ipvsd.schema.json and the README's configuration reference from the
 * config keyword tables (src/config/schema.ts), and the keyword list of docs/keepalived.md from the
 * converter's tables (src/config/keepalived/reference.ts). Run from the repository root after
 * changing a table; test/unit/config/schema.test.ts and keepalived/reference.test.ts fail while stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  KEEPALIVED_DOC,
  keepalivedReference,
  withKeepalivedReference,
} from '../config/keepalived/reference.js';
import { configReference, configSchemaText, SCHEMA_FILE, withReference } from '../config/schema.js';

const README = 'README.md';
writeFileSync(SCHEMA_FILE, configSchemaText());
writeFileSync(README, withReference(readFileSync(README, 'utf8'), configReference()));
writeFileSync(
  KEEPALIVED_DOC,
  withKeepalivedReference(readFileSync(KEEPALIVED_DOC, 'utf8'), keepalivedReference()),
);
process.stdout.write(
  `wrote ${SCHEMA_FILE}, the config reference in ${README} and the keywords in ${KEEPALIVED_DOC}\n`,
);
