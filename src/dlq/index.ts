/**
 * The dead-letter queue over Temporal visibility. A DLQ entry is a failed `processChangeEvent` run
 * (its failure carries the per-action outcomes); every function takes an injected Temporal client.
 */
export { DlqError, DlqInputError, DlqNotFoundError, DlqRetryRefusedError, type RetryRefusal } from './errors';
export { buildDlqQuery, FAILED_RUNS_QUERY, parseLimit, parseRate, parseSince, quote, type DlqFilters } from './filters';
export { countDlqEntries, DLQ_SIZE_METRIC, startDlqGauge, type DlqGaugeOptions } from './gauge';
export { DEFAULT_WORKFLOW_ID_PREFIX, eventIdOf, toWorkflowId } from '../contract';
export { listDlq, type DlqEntry, type ListDlqOptions, type ListDlqResult } from './list';
export { planRetry, retryAll, retryDlq, type RetryAllItem, type RetryAllOptions, type RetryAllResult, type RetryDlqOptions, type RetryDlqResult, type RetryPlan } from './retry';
export { showDlq, type DlqShowResult, type ShowDlqOptions, type ShownAction } from './show';
export { dlqStats, type DlqStats, type DlqStatsOptions } from './stats';
