import { describe, expect, it } from 'vitest';
import { createScrapeCheck, isLoopback } from './scrape-access.js';

describe('who may scrape /metrics', () => {
  it('takes the whole loopback range, in IPv4, IPv6 and IPv4-mapped form, and nothing else', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      expect(isLoopback(address), address).toBe(true);
    }
    for (const address of ['10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', '::', 'localhost', '', undefined]) {
      expect(isLoopback(address), String(address)).toBe(false);
    }
  });

  it('lets a remote scraper in only with the configured bearer, the scheme in any case', () => {
    const check = createScrapeCheck('0123456789abcdef');
    expect(check('10.1.1.1', { authorization: 'Bearer 0123456789abcdef' })).toBe('allowed');
    expect(check('10.1.1.1', { authorization: 'bearer 0123456789abcdef' })).toBe('allowed');
    expect(check('10.1.1.1', { authorization: 'Basic 0123456789abcdef' })).toBe('token-required');
    expect(check('10.1.1.1', { authorization: 'Bearer 0123456789abcdeF' })).toBe('token-required');
    expect(check('10.1.1.1', {})).toBe('token-required');
    expect(createScrapeCheck(null)('10.1.1.1', { authorization: 'Bearer 0123456789abcdef' })).toBe(
      'loopback-only',
    );
  });

  it('treats a local connection that a proxy forwarded as remote', () => {
    const check = createScrapeCheck(null);
    expect(check('127.0.0.1', {})).toBe('allowed');
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      expect(check('127.0.0.1', { [header]: '198.51.100.4' }), header).toBe('loopback-only');
    }
  });
});
