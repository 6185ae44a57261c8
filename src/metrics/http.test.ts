import { describe, expect, it } from 'vitest';
import { createRequestMetrics } from './http.js';

const request = (method: string, url: string | undefined) => ({ method, routeOptions: { url } });
const reply = (statusCode: number, elapsedTime: number) => ({ statusCode, elapsedTime });

describe('request metrics', () => {
  it('writes nothing before the first request', () => {
    expect(createRequestMetrics().expose()).toBe('');
  });

  it('counts by method, route and status, with cumulative buckets where a bound is inclusive', () => {
    const metrics = createRequestMetrics();
    metrics.observe(request('GET', '/v1/tokens/:id'), reply(200, 0.5)); // exactly 0.0005 s
    metrics.observe(request('GET', '/v1/tokens/:id'), reply(200, 3)); // 0.003 s
    metrics.observe(request('GET', '/v1/tokens/:id'), reply(404, 20_000)); // above every bound
    metrics.observe(request('POST', undefined), reply(404, 1));
    const lines = metrics.expose().split('\n');
    const labels = 'method="GET",route="/v1/tokens/:id",status="200"';
    expect(lines).toContain(`tooken_http_requests_total{${labels}} 2`);
    expect(lines).toContain(`tooken_http_request_duration_seconds_bucket{${labels},le="0.0005"} 1`);
    expect(lines).toContain(`tooken_http_request_duration_seconds_bucket{${labels},le="0.0025"} 1`);
    expect(lines).toContain(`tooken_http_request_duration_seconds_bucket{${labels},le="0.005"} 2`);
    expect(lines).toContain(`tooken_http_request_duration_seconds_bucket{${labels},le="+Inf"} 2`);
    expect(lines).toContain(`tooken_http_request_duration_seconds_sum{${labels}} 0.0035`);
    expect(lines).toContain(`tooken_http_request_duration_seconds_count{${labels}} 2`);
    const slow = 'method="GET",route="/v1/tokens/:id",status="404"';
    expect(lines).toContain(`tooken_http_request_duration_seconds_bucket{${slow},le="10"} 0`);
    expect(lines).toContain(`tooken_http_request_duration_seconds_bucket{${slow},le="+Inf"} 1`);
    expect(lines).toContain('tooken_http_requests_total{method="POST",route="unmatched",status="404"} 1');
    expect(lines.at(-1)).toBe('');
  });

  it('escapes backslashes, quotes and newlines in label values', () => {
    const metrics = createRequestMetrics();
    metrics.observe(request('GET', '/a"b\\c\nd'), reply(200, 1));
    expect(metrics.expose()).toContain('route="/a\\"b\\\\c\\nd"');
  });
});
