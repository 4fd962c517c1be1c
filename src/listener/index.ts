/** Public API of the listener. */
export { ChangeLogListener, type ListenerEvents, type ListenerState, type ListenerStatus } from './listener';
export type { ListenerOptions } from './options';
export type { RowDecision, RowHandler, StartDecision, StartResult, WorkflowStarter } from './types';
export { RecordingStarter, type RecordedStart, type RecordingStarterOptions } from './recording-starter';
export {
  checkpointHistory, compareAndSwapCheckpoint, ensureCheckpoint, listCheckpoints, pruneCheckpointHistory,
  readCheckpoint, recordCheckpointError, setCheckpoint,
  type CasResult, type CheckpointHistoryRecord, type CheckpointRecord,
} from './checkpoint-store';
export { findBadRow, listBadRows, recordBadRow, type BadRowRecord } from './bad-rows';
export { ChangeLogTableError, describeRls, inspectChangeLogTable, type ChangeLogTableInfo } from './table-info';
