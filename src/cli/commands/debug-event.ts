import { Args } from '@oclif/core';
import { BaseCommand, Flags } from '../base';
import { type DedupVerdict, describeDedupVerdict, lookUpDedup } from '../dedup-lookup';
import { databaseFlags, prefixFlag, tableFlags, temporalFlags } from '../flags';
import { loadConfig, type Config } from '../../config';
import { workflowIdOf } from '../../contract';
import { explainConnectionError } from '../../db/errors';
import { createPool } from '../../db/pool';
import { compileObservers, explainMatch, type MatchOutcome } from '../../events/match';
import type { ChangeEvent } from '../../events/types';
import type { BadRowRecord } from '../../listener/bad-rows';
import { EventLookupError, lookUpEvent, parseEventKey, type EventKey } from '../../listener/event-lookup';
import { inspectChangeLogTable } from '../../listener/table-info';
import { describeWorkflow, probeTemporal, type Probe, type WorkflowState } from '../../listener/temporal-probe';

/** One observer's verdict, with what a match means for the workflow (and its dedup window, if it has one). */
export type ObserverVerdict = MatchOutcome & { actions?: number; ordering?: string; dedup?: DedupVerdict };

/** Result of `debug-event`. */
export interface DebugEventResult {
  table: string;
  position: string;
  /** The row as the listener reads it. */
  row: Record<string, unknown>;
  event: ChangeEvent | null;
  bad: { reason: string; message: string } | null;
  recordedBadRows: BadRowRecord[];
  /** Every observer's outcome; null without --config. */
  observers: ObserverVerdict[] | null;
  /** The workflow the listener starts for this event (null for a bad row, or when no observer matched). */
  workflowId: string | null;
  temporal: Probe<WorkflowState> | { reachable: null; skipped: string };
}

/** `fraiseql-observers debug-event`: what the listener makes of one change-log row, and what became of it. */
export default class DebugEvent extends BaseCommand<typeof DebugEvent> {
  static override summary = 'Explain one change-log row: its event (or why it is bad), each observer\'s verdict, its workflow and Temporal status';
  static override description = `Reads the row by position (pk) or event id, maps it exactly as the listener does and shows the ChangeEvent, or the bad-row reason and any recorded bad-row entry. With --config, every observer's outcome: matched, disabled, entity_mismatch, event_mismatch, condition_false, or condition_error with its message; for a matched observer with a dedup window, which event holds the event's key in Redis (a duplicate names the event it duplicated). Then the workflow id the event gets and, when Temporal answers, that workflow's status.`;
  static override examples = [
    '<%= config.bin %> debug-event 120345 --config observers.yaml',
    '<%= config.bin %> debug-event 6f1c2a34-9d0e-4b7a-8c51-2e3f4a5b6c7d --json',
  ];
  static override args = {
    key: Args.string({ required: true, description: 'change-log position (pk) or event id (uuid)' }),
  };
  static override flags = {
    config: Flags.string({ char: 'c', description: 'observers file: show each observer\'s outcome for the event' }),
    ...databaseFlags,
    ...tableFlags,
    ...temporalFlags,
    ...prefixFlag,
    'temporal-timeout': Flags.integer({ default: 2000, min: 100, max: 60_000, description: 'ms to wait for Temporal before reporting it unreachable' }),
    'redis-url': Flags.string({ description: 'Redis holding the observers\' dedup windows (default: $REDIS_URL)' }),
    temporal: Flags.boolean({ default: true, allowNo: true, description: 'look the workflow up in Temporal (--no-temporal skips it)' }),
  };

  public async run(): Promise<DebugEventResult> {
    const s = this.settings();
    const security = this.temporalSecurityFromEnv();
    let key: EventKey;
    try {
      key = parseEventKey(this.args.key);
    } catch (err) {
      if (err instanceof EventLookupError) this.error(`argument KEY: ${err.message}`, { exit: 2 });
      throw err;
    }
    let config: Config | null = null;
    if (this.flags.config) {
      // The listener's own settings win over the file's environment only where flags were given.
      config = await loadConfig({ env: { ...process.env, DATABASE_URL: s.databaseUrl }, file: this.flags.config });
    }

    const pool = createPool({ connectionString: s.databaseUrl, max: 1, connectionTimeoutMillis: 10_000 });
    let found;
    let tableName: string;
    try {
      const info = await inspectChangeLogTable(pool, s.changeLogTable.qualified, 'fraiseql_events');
      tableName = info.display;
      found = await lookUpEvent(pool, info, key, s.changeLogTable.qualified);
    } catch (err) {
      throw explainConnectionError(err, s.databaseUrl);
    } finally {
      await pool.end().catch(() => undefined);
    }

    const { event } = found;
    let observers: ObserverVerdict[] | null = null;
    if (config && event) {
      const compiled = compileObservers(config);
      const byName = new Map(config.observers.map((o) => [o.name, o]));
      observers = explainMatch(event, compiled).map((v) => {
        const o = byName.get(v.observer);
        return v.outcome === 'matched' && o ? { ...v, actions: o.actions.length, ordering: o.ordering } : v;
      });
      const matched = new Set(observers.filter((v) => v.outcome === 'matched').map((v) => v.observer));
      const windows = await lookUpDedup(event, config.observers.filter((o) => matched.has(o.name)), {
        redisUrl: this.flags['redis-url'] ?? config.env.redisUrl, workflowIdPrefix: s.workflowIdPrefix, timeoutMs: this.flags['temporal-timeout'],
      });
      observers = observers.map((v) => (windows.has(v.observer) ? { ...v, dedup: windows.get(v.observer) } : v));
    }
    const anyMatch = observers === null ? null : observers.some((o) => o.outcome === 'matched');
    const workflowId = event && anyMatch !== false ? workflowIdOf(event.id, s.workflowIdPrefix) : null;
    let temporal: DebugEventResult['temporal'];
    if (!workflowId) temporal = { reachable: null, skipped: event ? 'no observer matched: the listener starts no workflow' : 'bad row: no workflow' };
    else if (!this.flags.temporal) temporal = { reachable: null, skipped: '--no-temporal' };
    else temporal = await probeTemporal({ address: s.temporalAddress, namespace: s.temporalNamespace, timeoutMs: this.flags['temporal-timeout'], security, source: s.temporalAddressSource }, (c) => describeWorkflow(c, workflowId));

    const result: DebugEventResult = {
      table: tableName,
      position: found.row.pk,
      row: found.row as unknown as Record<string, unknown>,
      event,
      bad: found.bad,
      recordedBadRows: found.recordedBadRows,
      observers,
      workflowId,
      temporal,
    };
    if (!this.jsonEnabled()) this.print(result);
    return result;
  }

  private print(r: DebugEventResult): void {
    this.log(`Change-log row ${r.position} of ${r.table}`);
    if (r.bad) this.log(`  BAD ROW (${r.bad.reason}): ${r.bad.message} — the listener skips it and records the reason`);
    for (const b of r.recordedBadRows) this.log(`  recorded as bad by listener ${b.listenerId} at ${b.recordedAt.toISOString()}: ${b.reason}: ${b.message}`);
    if (r.event) {
      const e = r.event;
      this.table(['field', 'value'], [
        ['event id', e.id], ['kind', e.rawKind === e.kind ? e.kind : `${e.kind} (${e.rawKind})`], ['entity', `${e.entityType} ${e.entityId ?? '(no id)'}`],
        ['tenant', e.tenantId], ['data', JSON.stringify(e.data)], ['changes', e.changes ? JSON.stringify(e.changes) : null],
        ['created / committed', `${e.createdAt ?? ''} / ${e.commitTime ?? ''}`],
      ]);
    }
    if (r.observers === null) {
      if (r.event) this.log('Observers: pass --config FILE to see which observers match this event.');
    } else if (r.observers.length === 0) this.log('The observers file has no observers.');
    else {
      this.table(['observer', 'outcome', 'detail'], r.observers.map((o) => [
        o.observer, o.outcome,
        o.outcome === 'condition_error' ? o.message : o.outcome === 'matched' ? `${o.actions ?? 0} action(s)${o.ordering === 'per_entity' ? ', ordered per entity' : ''}` : '',
      ]));
    }
    for (const o of r.observers ?? []) if (o.dedup) this.log(`  ${o.observer}: ${describeDedupVerdict(o.dedup)}`);
    const matched = (r.observers ?? []).filter((o) => o.outcome === 'matched');
    if (matched.length > 0 && matched.every((o) => o.dedup?.state === 'duplicate')) {
      this.log('Every matched observer skips this event in its dedup window: the listener starts no workflow for it.');
    }
    if (r.workflowId) this.log(`Workflow id: ${r.workflowId}`);
    const t = r.temporal;
    if (t.reachable === null) this.log(`Temporal: ${t.skipped}`);
    else if (!t.reachable) this.log(`Temporal: unreachable — ${t.error}`);
    else if (!t.value.found) this.log(`Temporal ${t.address}: no workflow ${r.workflowId} (not started yet, or no longer retained)`);
    else {
      const w = t.value;
      this.log(`Temporal ${t.address}: ${w.status} (run ${w.runId}, started ${w.startTime}${w.closeTime ? `, closed ${w.closeTime}` : ''}, ${w.historyLength} history events, task queue ${w.taskQueue})`);
    }
  }
}
