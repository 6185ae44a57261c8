import { describe, expect, it } from 'vitest';
import {
  CorruptJsonError,
  decodeAuditChanges,
  decodeCustomScopes,
  decodeDeliveryAttempts,
  decodeJson,
  decodeMetadata,
  decodeScopes,
  decodeWebhookEvents,
} from './json.js';

const attempt = {
  at: '2026-01-15T09:00:00.000Z',
  status_code: 500,
  latency_ms: 12,
  error: null,
  response_excerpt: 'oops',
};

describe('JSON column decoders', () => {
  it('decodes arrays of strings', () => {
    expect(decodeScopes('["tokens:read","billing:write"]')).toEqual(['tokens:read', 'billing:write']);
    expect(decodeCustomScopes('[]')).toEqual([]);
    expect(decodeWebhookEvents('["token.created"]')).toEqual(['token.created']);
  });

  it('throws on an array holding anything but strings, naming the column', () => {
    expect(() => decodeScopes('["tokens:read",1]')).toThrow('corrupt token scopes: not an array of strings');
    expect(() => decodeCustomScopes('{"0":"a"}')).toThrow(CorruptJsonError);
    expect(() => decodeWebhookEvents('null')).toThrow('corrupt webhook events');
  });

  it('throws on text that is not JSON, keeping the parser error as the cause', () => {
    let thrown: unknown;
    try {
      decodeScopes('["tokens:read"');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CorruptJsonError);
    expect(thrown).toMatchObject({
      message: 'corrupt token scopes: not JSON',
      cause: expect.any(SyntaxError),
    });
    expect(() => decodeJson('', 'job payload')).toThrow('corrupt job payload: not JSON');
  });

  it('decodes token metadata as a plain object, nested values untouched', () => {
    expect(decodeMetadata('{}')).toEqual({});
    expect(decodeMetadata('{"plan":"pro","limits":{"rps":5},"tags":["a"]}')).toEqual({
      plan: 'pro',
      limits: { rps: 5 },
      tags: ['a'],
    });
  });

  it('throws on metadata that is an array, null or a scalar', () => {
    for (const text of ['[]', 'null', '"x"', '3']) {
      expect(() => decodeMetadata(text)).toThrow('corrupt token metadata: not a JSON object');
    }
  });

  it('decodes delivery attempts', () => {
    const network = { ...attempt, status_code: null, error: 'ECONNREFUSED', response_excerpt: null };
    expect(decodeDeliveryAttempts('[]')).toEqual([]);
    expect(decodeDeliveryAttempts(JSON.stringify([attempt, network]))).toEqual([attempt, network]);
  });

  it('throws on a malformed delivery attempt', () => {
    const { latency_ms: _, ...noLatency } = attempt;
    for (const bad of [
      {},
      [noLatency],
      [{ ...attempt, status_code: '500' }],
      [{ ...attempt, error: 1 }],
      [null],
    ]) {
      expect(() => decodeDeliveryAttempts(JSON.stringify(bad))).toThrow(
        'corrupt delivery attempts: not an array of attempts',
      );
    }
  });

  it('decodes audit changes, and null as no changes', () => {
    expect(decodeAuditChanges(null)).toBeNull();
    // A `from` that was undefined is dropped by JSON: the change is still an object.
    expect(decodeAuditChanges('{"role":{"from":"viewer","to":"admin"},"name":{"to":"x"}}')).toEqual({
      role: { from: 'viewer', to: 'admin' },
      name: { to: 'x' },
    });
  });

  it('throws on audit changes that are not an object of objects', () => {
    for (const text of ['[]', '{"role":"admin"}', '{"role":null}', 'true']) {
      expect(() => decodeAuditChanges(text)).toThrow('corrupt audit changes');
    }
  });
});
