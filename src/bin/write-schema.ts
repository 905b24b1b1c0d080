/**
 * `npm run schema`: writes config/ipvsd.schema.json and the README's configuration reference from the
 * config keyword tables (src/config/schema.ts). Run from the repository root after changing a table;
 * test/unit/config/schema.test.ts fails while either file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { configReference, configSchemaText, SCHEMA_FILE, withReference } from '../config/schema.js';

const README = 'README.md';
writeFileSync(SCHEMA_FILE, configSchemaText());
writeFileSync(README, withReference(readFileSync(README, 'utf8'), configReference()));
process.stdout.write(`wrote ${SCHEMA_FILE} and the config reference in ${README}\n`);
