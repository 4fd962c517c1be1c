import { BaseCommand, Flags } from '../base';
import { databaseFlags, tableFlags, temporalFlags } from '../flags';
import { describeDatabaseUrl, explainConnectionError } from '../../db/errors';
import { createPool } from '../../db/pool';
import { gatherDatabaseStatus, type DatabaseStatus } from '../../listener/status-report';
import { countChangeEventWorkflows, probeTemporal, type Probe, type WorkflowCounts } from '../../listener/temporal-probe';

/** Result of `status`. */
export interface StatusResult extends DatabaseStatus {
  database: string;
  temporal: Probe<WorkflowCounts> | { reachable: null; skipped: true };
}

/** `fraiseql-observers status`: listeners' checkpoints, lag, gaps, leader, RLS, bad rows and Temporal. */
export default class Status extends BaseCommand<typeof Status> {
  static override summary = 'Show each listener: checkpoint, lag, open gaps, leader, RLS, bad rows, and Temporal workflow counts';
  static override description = `Reads PostgreSQL (and Temporal, when it answers) from outside the listener, so it works whether or not one runs.
Per listener id: the saved checkpoint and its age; the change log's head and the lag in rows and seconds; positions still missing between checkpoint and head (transactions not yet committed, rolled back, or rows hidden by row-level security) with the oldest open write transaction; the session holding the leader lock (pid, application_name, client address) and waiting standbys; consecutive errors and the last error; recorded bad rows.
Also says when row-level security hides rows from the connecting role, and counts open and failed processChangeEvent workflows; an unreachable Temporal is reported, not fatal.`;
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --listener-id orders --json', '<%= config.bin %> status --address temporal:7233 --namespace prod'];
  static override flags = {
    ...databaseFlags,
    ...tableFlags,
    'listener-id': Flags.string({ description: 'only this listener' }),
    ...temporalFlags,
    'temporal-timeout': Flags.integer({ default: 2000, min: 100, max: 60_000, description: 'ms to wait for Temporal before reporting it unreachable' }),
    temporal: Flags.boolean({ default: true, allowNo: true, description: 'query Temporal for workflow counts (--no-temporal skips it)' }),
  };

  public async run(): Promise<StatusResult> {
    const s = this.settings();
    const security = this.temporalSecurityFromEnv();
    const pool = createPool({ connectionString: s.databaseUrl, max: 2, connectionTimeoutMillis: 10_000 });
    const temporal: Promise<StatusResult['temporal']> = this.flags.temporal
      ? probeTemporal({ address: s.temporalAddress, namespace: s.temporalNamespace, timeoutMs: this.flags['temporal-timeout'], security, source: s.temporalAddressSource }, countChangeEventWorkflows)
      : Promise.resolve({ reachable: null, skipped: true });
    let db: DatabaseStatus;
    try {
      db = await gatherDatabaseStatus(pool, { table: s.changeLogTable.qualified, listenerId: this.flags['listener-id'] });
    } catch (err) {
      await temporal;
      throw explainConnectionError(err, s.databaseUrl);
    } finally {
      await pool.end().catch(() => undefined);
    }
    const result: StatusResult = { database: describeDatabaseUrl(s.databaseUrl), ...db, temporal: await temporal };
    if (!this.jsonEnabled()) this.print(result);
    return result;
  }

  private print(r: StatusResult): void {
    const t = r.table;
    this.log(`Database ${r.database}, change log ${t.name}${t.head === null ? '' : ` (head ${t.head})`}`);
    if (t.error) this.log(`  change log: ${t.error}`);
    else {
      this.log(`  read as role ${t.role}; NOTIFY trigger: ${t.notifyTrigger ? 'yes' : 'no (listeners poll)'}`);
      this.log(t.rlsHidesRows ? `  WARNING: ${t.rlsWarning}` : '  row-level security: hides nothing from this role');
    }
    if (r.listeners.length === 0) this.log('No listener has run against this database yet (no checkpoint, no lease session).');
    else {
      this.table(
        ['listener', 'checkpoint', 'saved', 'lag rows', 'lag s', 'missing', 'leader', 'standbys', 'errors', 'bad rows'],
        r.listeners.map((l) => [
          l.listenerId,
          l.checkpoint?.lastProcessedId ?? 'none',
          l.checkpoint ? `${fmtSeconds(l.checkpoint.ageSeconds)} ago` : '',
          l.lagIds ?? (t.rlsHidesRows ? 'unknown (RLS)' : ''),
          l.lagSeconds === null ? '' : fmtSeconds(l.lagSeconds),
          l.missing ? (l.missing.ranges === 0 ? '0' : `${l.missing.positions} in ${l.missing.ranges} gap(s) from ${l.missing.first}${l.missing.truncated ? ' (first 100k rows)' : ''}`) : '',
          l.leader ? `pid ${l.leader.pid}${l.leader.clientAddr ? ` from ${l.leader.clientAddr}` : ''}${l.leader.applicationName ? ` (${l.leader.applicationName})` : ''}` : 'none',
          l.standbys,
          l.checkpoint ? `${l.checkpoint.consecutiveErrors}${l.checkpoint.lastError ? `: ${l.checkpoint.lastError}` : ''}` : '',
          l.badRows.count,
        ]),
      );
      for (const l of r.listeners) {
        for (const b of l.badRows.latest) this.log(`  bad row ${b.pk} (${l.listenerId}, ${b.recordedAt.toISOString()}): ${b.reason}: ${b.message}`);
      }
    }
    if (r.oldestWriteTransaction) {
      const o = r.oldestWriteTransaction;
      this.log(`  oldest open write transaction: pid ${o.pid}${o.applicationName ? ` (${o.applicationName})` : ''}, open ${fmtSeconds(o.ageSeconds)} — checkpoints wait for it`);
    }
    const tp = r.temporal;
    if (tp.reachable === null) this.log('Temporal: not queried (--no-temporal)');
    else if (tp.reachable) this.log(`Temporal ${tp.address} (${tp.namespace}): ${tp.value.open} open processChangeEvent workflows, ${tp.value.dlqEntries} in the dead-letter queue (see \`dlq list\`)`);
    else this.log(`Temporal: unreachable — ${tp.error} (workflow counts unknown)`);
  }
}

function fmtSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
