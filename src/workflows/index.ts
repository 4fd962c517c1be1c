// The workflows the worker registers (bundled by the Temporal SDK: deterministic code only).
export { processChangeEvent } from './process-change-event';
