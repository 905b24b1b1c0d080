/** The config module's public surface: load/parse a file, the Config types, the desired IPVS table. */

export { SCHEDULERS } from '../model/ipvs.js';
export { desiredDestination, desiredService, desiredServices, memberServices } from './desired.js';
export { formatDuration, parseDuration } from './durations.js';
export { type LoadResult, loadConfig, MAX_CONFIG_BYTES, readConfigFile } from './load.js';
export { type ParseOptions, type ParseResult, parseConfig } from './parse.js';
export { schedulerFlagBits } from './schedulers.js';
export type * from './types.js';
