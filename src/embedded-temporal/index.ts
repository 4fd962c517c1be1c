export { startEmbeddedTemporal, type EmbeddedTemporal, type EmbeddedTemporalOptions } from './server';
export { parseSearchAttributeFlag } from './cli-args';
