import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../canonical-json.js';
import { type ChainedFields, chainHash, GENESIS_HASH } from './chain.js';

describe('the audit hash chain', () => {
  it('sorts object keys at every depth but keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('hashes the previous hash, a newline and the canonical entry', () => {
    const entry: ChainedFields = {
      id: 'aud_1',
      event: 'workspace.created',
      created_at: '2026-01-15T09:00:00.000Z',
      actor: { type: 'user', name: 'a@example.com', id: 'usr_1' },
      target: { type: 'workspace', id: 'ws_1', name: 'Acme' },
      changes: null,
      ip: '127.0.0.1',
      user_agent: null,
      request_id: 'req_1',
    };
    const expected = createHash('sha256')
      .update(
        `${GENESIS_HASH}\n["aud_1","workspace.created","2026-01-15T09:00:00.000Z",{"id":"usr_1","name":"a@example.com","type":"user"},{"id":"ws_1","name":"Acme","type":"workspace"},null,"127.0.0.1",null,"req_1"]`,
      )
      .digest('hex');
    expect(chainHash(GENESIS_HASH, entry)).toBe(expected);
    expect(chainHash('f'.repeat(64), entry)).not.toBe(expected);
  });
});
