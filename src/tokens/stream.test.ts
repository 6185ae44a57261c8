import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ChangeEvent, createChangeStreams } from './stream.js';

const DAY_MS = 86_400_000;

describe('change streams: the credential that opened a stream', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse('2026-01-15T09:00:00.000Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const streams = () => createChangeStreams({ perWorkspace: 10, perNode: 10 }, () => Date.now());
  const listen = () => {
    const events: ChangeEvent[] = [];
    return { events, listener: (event: ChangeEvent) => events.push(event) };
  };

  it('ends a token stream at its expiry, even one further away than a single timer can wait', () => {
    const s = streams();
    const { events, listener } = listen();
    const start = Date.now();
    s.open('ws_1', { kind: 'token', id: 'tok_1', validUntil: start + 30 * DAY_MS }, listener);
    // One timer waits as long as a timer can (not an overflowed delay, which Node turns into 1 ms).
    vi.advanceTimersToNextTimer();
    expect(Date.now() - start).toBe(2 ** 31 - 1);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(start + 30 * DAY_MS - Date.now() - 1);
    expect(events).toEqual([]);
    expect(s.count()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(events).toEqual([{ type: 'end', reason: 'credential_expired' }]);
    expect(s.count()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('clears the expiry timer when the stream closes', () => {
    const s = streams();
    const { events, listener } = listen();
    const subscription = s.open(
      'ws_1',
      { kind: 'token', id: 'tok_1', validUntil: Date.now() + 1000 },
      listener,
    );
    expect(vi.getTimerCount()).toBe(1);
    subscription?.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(2000);
    expect(events).toEqual([]);
  });

  it('never ends a stream from within open, even for a credential already past its expiry', () => {
    const s = streams();
    const { events, listener } = listen();
    s.open('ws_1', { kind: 'token', id: 'tok_1', validUntil: Date.now() - 1 }, listener);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(events).toEqual([{ type: 'end', reason: 'credential_expired' }]);
  });

  it('ends only the streams a changed credential opened; a reset ends every credential stream', () => {
    const s = streams();
    const key = listen();
    const otherKey = listen();
    const token = listen();
    const session = listen();
    s.open('ws_1', { kind: 'api_key', digest: 'd_key' }, key.listener);
    s.open('ws_1', { kind: 'api_key', digest: 'd_other' }, otherKey.listener);
    s.open('ws_1', { kind: 'token', id: 'tok_1', validUntil: null }, token.listener);
    s.open('ws_1', { kind: 'session' }, session.listener);
    s.relay({ type: 'credentials.changed', digests: ['d_key', 'd_unknown'] });
    expect(key.events).toEqual([{ type: 'end', reason: 'credential_changed' }]);
    s.relay({ type: 'token.changed', digests: [], workspaceId: 'ws_1', tokenIds: ['tok_1', 'tok_2'] });
    expect(token.events).toEqual([{ type: 'end', reason: 'credential_changed' }]);
    const invalidate = { type: 'invalidate', tokenIds: ['tok_1', 'tok_2'] };
    expect(otherKey.events).toEqual([invalidate]);
    expect(session.events).toEqual([invalidate]);
    expect(s.count()).toBe(2);
    s.relay({ type: 'reset' });
    expect(otherKey.events).toEqual([
      invalidate,
      { type: 'reset' },
      { type: 'end', reason: 'changes_missed' },
    ]);
    expect(session.events).toEqual([invalidate, { type: 'reset' }]);
    expect(s.count()).toBe(1);
  });
});
