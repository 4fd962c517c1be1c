/**
 * The one contract between the listener, the workflow, the activities, the DLQ and the CLI:
 * plain-data types and constants, no I/O. Workflow code may import it; workflows and activities
 * never import each other, only this.
 */
export * from './actions';
export * from './workflow';
