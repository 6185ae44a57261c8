import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, '/srv');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({}, '/srv');
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      publicUrl: 'http://127.0.0.1:8080',
      dataDir: '/srv/tooken-data',
      databaseUrl: 'sqlite:/srv/tooken-data/tooken.db',
      signup: 'first-user',
      rateLimitPerMinute: 1000,
      verifyRateLimitPerMinute: 6_000_000,
      webhookAllowPrivate: false,
      logLevel: 'info',
      trustProxy: false,
      metricsToken: null,
      jobLeaseMs: 60_000,
      streamsPerWorkspace: 100,
      streamsPerNode: 1000,
      streamKeepAliveMs: 15_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads PostgreSQL URLs and a public URL without its trailing slash', () => {
    const config = loadConfig(
      {
        TOOKEN_DATABASE_URL: 'postgres://u:p@db:5432/tooken',
        TOOKEN_PUBLIC_URL: 'https://tooken.example.com/',
      },
      '/srv',
    );
    expect(config.databaseUrl).toBe('postgres://u:p@db:5432/tooken');
    expect(config.publicUrl).toBe('https://tooken.example.com');
  });

  it('names every bad variable on a line of its own', () => {
    const lines = problems({
      TOOKEN_PORT: 'eighty',
      TOOKEN_SIGNUP: 'sometimes',
      TOOKEN_DATABASE_URL: 'mysql://x',
      TOOKEN_SECRET_KEY: 'c2hvcnQ=',
      TOOKEN_WEBHOOK_ALLOW_PRIVATE: 'yes',
      TOOKEN_RATE_LIMIT_PER_MINUTE: '0',
      TOOKEN_LOG_LEVEL: 'loud',
      TOOKEN_PUBLIC_URL: 'ftp://x',
      TOOKEN_JOB_LEASE_MS: '500',
    });
    expect(lines).toHaveLength(9);
    for (const name of [
      'TOOKEN_PORT',
      'TOOKEN_SIGNUP',
      'TOOKEN_DATABASE_URL',
      'TOOKEN_SECRET_KEY',
      'TOOKEN_WEBHOOK_ALLOW_PRIVATE',
      'TOOKEN_RATE_LIMIT_PER_MINUTE',
      'TOOKEN_LOG_LEVEL',
      'TOOKEN_PUBLIC_URL',
      'TOOKEN_JOB_LEASE_MS',
    ]) {
      expect(lines.filter((line) => line.startsWith(name))).toHaveLength(1);
    }
  });

  it('takes a job lease from 1 second to 1 hour', () => {
    expect(loadConfig({ TOOKEN_JOB_LEASE_MS: '5000' }, '/srv').jobLeaseMs).toBe(5000);
    expect(problems({ TOOKEN_JOB_LEASE_MS: '3600001' })).toEqual([
      'TOOKEN_JOB_LEASE_MS must be an integer from 1000 to 3600000 (got "3600001")',
    ]);
    expect(problems({ TOOKEN_JOB_LEASE_MS: '5s' })).toHaveLength(1);
  });

  describe('TOOKEN_TRUST_PROXY', () => {
    const trustProxy = (value: string) => loadConfig({ TOOKEN_TRUST_PROXY: value }, '/srv').trustProxy;

    it('is off by default, and with false or 0', () => {
      expect(loadConfig({}, '/srv').trustProxy).toBe(false);
      expect(trustProxy('false')).toBe(false);
      expect(trustProxy('0')).toBe(false);
    });

    it('reads true as one hop, not as every hop', () => {
      expect(trustProxy('true')).toBe(1);
    });

    it('reads a hop count', () => {
      expect(trustProxy('1')).toBe(1);
      expect(trustProxy('2')).toBe(2);
    });

    it('reads a comma-separated list of proxy addresses, CIDR ranges and named ranges', () => {
      expect(trustProxy('10.0.0.1, 10.0.0.0/8,fd00::/8 , ::1,loopback')).toEqual([
        '10.0.0.1',
        '10.0.0.0/8',
        'fd00::/8',
        '::1',
        'loopback',
      ]);
    });

    it.each([
      'yes',
      '-1',
      '1.5',
      '10.0.0.256',
      '10.0.0.0/33',
      '::1/129',
      '10.0.0.1/8/8',
      '10.0.0.1,,10.0.0.2',
      'example.com',
    ])('refuses %j with one line naming the variable', (value) => {
      const lines = problems({ TOOKEN_TRUST_PROXY: value });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^TOOKEN_TRUST_PROXY must be /);
      expect(lines[0]).toContain(`"${value}"`);
    });
  });

  it('never echoes a secret key or database password in its complaint', () => {
    const lines = problems({
      TOOKEN_SECRET_KEY: 'not-really-32-bytes',
      TOOKEN_DATABASE_URL: 'postgres://u:hunter2@[bad',
    });
    expect(lines).toHaveLength(2);
    expect(lines.join('\n')).not.toContain('not-really-32-bytes');
    expect(lines.join('\n')).not.toContain('hunter2');
  });

  it('takes a metrics token of bearer characters, and refuses a short one without echoing it', () => {
    const token = 'k7Fq-2x.Wm_9~Zp+a/b=';
    expect(loadConfig({ TOOKEN_METRICS_TOKEN: token }, '/srv').metricsToken).toBe(token);
    for (const bad of ['short-secret', 'has spaces in the middle of it', 'quote"inside-a-long-token']) {
      const lines = problems({ TOOKEN_METRICS_TOKEN: bad });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^TOOKEN_METRICS_TOKEN /);
      expect(lines[0]).not.toContain(bad);
    }
  });
});
