/**
 * The PromQL name lexer behind the dashboard and alert-rule checks: if it missed names, those
 * checks would pass whatever the files say, so it is tested on its own.
 */
import { checkExpression, metricNamesIn, selectorsIn } from '../helpers/promql';

describe('metric names in PromQL', () => {
  it('finds plain selectors and ignores functions, aggregations and numbers', () => {
    expect(metricNamesIn('sum(rate(observer_events_processed_total[5m])) > 0.5')).toEqual(['observer_events_processed_total']);
    expect(metricNamesIn('observer_listener_health == 0')).toEqual(['observer_listener_health']);
    expect(metricNamesIn('time() - 1e3')).toEqual([]);
  });

  it('skips grouping label lists before and after the aggregation body', () => {
    expect(metricNamesIn('sum by (action_type, status) (rate(observer_actions_executed_total[5m]))')).toEqual(['observer_actions_executed_total']);
    expect(metricNamesIn('sum(rate(a_total[5m])) without (instance) / on (job) group_left(le) b')).toEqual(['a_total', 'b']);
    expect(metricNamesIn('a unless ignoring(x) b or c and bool d')).toEqual(['a', 'b', 'c', 'd']);
  });

  it('reads label matchers and ignores what is inside strings, ranges and Grafana variables', () => {
    expect(selectorsIn('rate(x_total{job=~"$job", status!="by(y)"}[$__rate_interval])')).toEqual([{ name: 'x_total', labels: ['job', 'status'] }]);
    expect(selectorsIn('label_replace(up_metric, "dst", "$1", "src", "(not_a_metric)")')).toEqual([{ name: 'up_metric', labels: [] }]);
    expect(selectorsIn('{__name__="named_by_label", a="1"}')).toEqual([{ name: 'named_by_label', labels: ['a'] }]);
    expect(metricNamesIn('max_over_time(q[1h30m:1m]) offset 5m')).toEqual(['q']);
    expect(metricNamesIn('${datasource_metric:raw} + y')).toEqual(['y']);
  });

  it('reads histogram quantiles and absent()', () => {
    expect(metricNamesIn('histogram_quantile(0.95, sum by (le) (rate(observer_action_duration_seconds_bucket[5m])))')).toEqual(['observer_action_duration_seconds_bucket']);
    expect(metricNamesIn('(sum(x) or vector(0)) < 1 or on() absent(x)')).toEqual(['x']);
  });

  it('rejects broken expressions instead of reading nothing', () => {
    expect(() => selectorsIn('rate(x{job="a}[5m])')).toThrow(/unterminated string/);
    expect(() => selectorsIn('x{job="a"')).toThrow(/unterminated '\{'/);
  });

  it('checks names and selector labels against exported families', () => {
    const families = [
      { name: 'observer_action_duration_seconds', type: 'histogram', labels: ['action_type'] },
      { name: 'observer_listener_health', type: 'gauge', labels: [] },
    ];
    expect(checkExpression('histogram_quantile(0.9, sum by (le) (rate(observer_action_duration_seconds_bucket{action_type="webhook", job="x"}[5m])))', families)).toEqual([]);
    expect(checkExpression('observer_action_duration_seconds > 1', families)).toEqual(['observer_action_duration_seconds is not exported by the service']);
    expect(checkExpression('observer_listener_health{observer="a"} == 0', families)).toEqual(['observer_listener_health has no label observer (it has: none)']);
    expect(checkExpression('vector(1)', families)).toEqual(['reads no metric: vector(1)']);
  });
});
