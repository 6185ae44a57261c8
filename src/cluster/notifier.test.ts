import { describe, expect, it } from 'vitest';
import { CorruptJsonError } from '../db/json.js';
import { decodeNotice, decodeNoticeMessage, type Notice } from './notifier.js';

describe('decoding a cluster notice', () => {
  it('decodes every kind of notice', () => {
    const notices: Notice[] = [
      { type: 'token.changed', digests: ['a', 'b'] },
      { type: 'credentials.changed', digests: [] },
      { type: 'workspace.changed', ids: ['ws_1'] },
      { type: 'reset' },
    ];
    for (const notice of notices) expect(decodeNotice(JSON.stringify(notice))).toEqual(notice);
  });

  it('throws on an unknown type, a missing or malformed list, or text that is not JSON', () => {
    for (const text of [
      '{"type":"token.deleted","digests":[]}',
      '{"type":"token.changed"}',
      '{"type":"workspace.changed","ids":[1]}',
      '{"type":"credentials.changed","ids":["x"]}',
      '["reset"]',
      'reset',
    ]) {
      expect(() => decodeNotice(text)).toThrow(CorruptJsonError);
    }
  });

  it('reads the sending node and send time, and takes notices without them (older nodes)', () => {
    const stamped = '{"type":"token.changed","digests":["a"],"from":"node_x","sent_at":1768467600000}';
    expect(decodeNoticeMessage(stamped)).toEqual({
      notice: { type: 'token.changed', digests: ['a'] },
      from: 'node_x',
      sentAt: 1768467600000,
    });
    expect(decodeNoticeMessage('{"type":"reset","sent_at":"soon"}')).toEqual({
      notice: { type: 'reset' },
      from: null,
      sentAt: null,
    });
  });
});
