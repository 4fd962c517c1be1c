import { MetricsFormatError, parsePrometheusText } from '../../src/metrics/parse-text';

const TEXT = `# HELP observer_action_duration_seconds Duration of one action attempt
# TYPE observer_action_duration_seconds histogram
observer_action_duration_seconds_bucket{le="0.1",action_type="webhook"} 2
observer_action_duration_seconds_bucket{le="+Inf",action_type="webhook"} 3
observer_action_duration_seconds_sum{action_type="webhook"} 0.42
observer_action_duration_seconds_count{action_type="webhook"} 3
# HELP observer_dedup_skips_total Starts rejected
# TYPE observer_dedup_skips_total counter
observer_dedup_skips_total 7
# TYPE observer_cache_hit_rate gauge
observer_cache_hit_rate Nan
weird_metric{path="a\\\\b",quote="say \\"hi\\"",nl="x\\ny"} -Inf 1700000000000
`;

describe('parsePrometheusText', () => {
  it('reads families, samples, labels with escapes, and special values', () => {
    const { families, samples } = parsePrometheusText(TEXT);
    expect(families.get('observer_action_duration_seconds')).toEqual({ name: 'observer_action_duration_seconds', type: 'histogram', help: 'Duration of one action attempt' });
    expect(samples).toHaveLength(7);
    expect(samples[1]).toEqual({ name: 'observer_action_duration_seconds_bucket', family: 'observer_action_duration_seconds', labels: { le: '+Inf', action_type: 'webhook' }, value: 3 });
    expect(samples[4]).toEqual({ name: 'observer_dedup_skips_total', family: 'observer_dedup_skips_total', labels: {}, value: 7 });
    expect(samples[5]?.value).toBeNaN();
    expect(samples[6]).toEqual({ name: 'weird_metric', family: 'weird_metric', labels: { path: 'a\\b', quote: 'say "hi"', nl: 'x\ny' }, value: Number.NEGATIVE_INFINITY });
  });

  it('names the line that is not the exposition format', () => {
    expect(() => parsePrometheusText('ok_metric 1\n<html>')).toThrow(new MetricsFormatError('line 2: expected a metric name, got "<html>"'));
    expect(() => parsePrometheusText('m{a="1" 2')).toThrow('line 1: malformed label set');
    expect(() => parsePrometheusText('m{a="1} 2')).toThrow('line 1: unterminated label value');
    expect(() => parsePrometheusText('m one')).toThrow('line 1: value "one" is not a number');
  });
});
