import { describe, expect, it } from 'vitest';
import { generateSecret } from './auth/credentials.js';
import { newId } from './ids.js';
import { createLogger, createRequestLineWriter, type RequestLine, withoutPathRedaction } from './logger.js';

/** A logger writing into an array, as the server's would write to stdout. */
function capture(level: 'info' | 'warn' = 'info') {
  const lines: string[] = [];
  const logger = createLogger(level, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

const withoutTime = (line: string) => line.replace(/"time":"[^"]*"/, '"time":""');

describe('createRequestLineWriter', () => {
  const requestId = newId('req');
  const cases: RequestLine[] = [
    {
      reqId: requestId,
      method: 'POST',
      route: '/v1/tokens/verify',
      path: '/v1/tokens/verify',
      status: 200,
      duration_ms: 0.37,
      request_id: requestId,
      workspace_id: newId('wsp'),
    },
    // What a client sends ends up in the path and the request id: quotes, backslashes, control
    // characters, non-ASCII, and a pasted secret.
    {
      reqId: 'client:id-1.2',
      method: 'GET',
      route: null,
      path: `/v1/tokens/${generateSecret('token')}/x"y\\z\u0001é`,
      status: 404,
      duration_ms: 12,
      request_id: 'client:id-1.2',
      workspace_id: null,
    },
  ];

  it('writes the same line as pino, byte for byte apart from the time, secrets redacted', () => {
    for (const line of cases) {
      const fast = capture();
      const viaPino = capture();
      createRequestLineWriter(fast.logger)(line);
      withoutPathRedaction(viaPino.logger).info(line, 'request');
      expect(fast.lines).toHaveLength(1);
      expect(withoutTime(fast.lines[0] as string)).toBe(withoutTime(viaPino.lines[0] as string));
      expect(fast.lines[0]).not.toContain('tkn_A');
      expect(JSON.parse(fast.lines[0] as string).time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });

  it('writes nothing when the level is above info, and goes through pino for a logger with bindings', () => {
    const quiet = capture('warn');
    createRequestLineWriter(quiet.logger)(cases[0] as RequestLine);
    expect(quiet.lines).toEqual([]);

    const bound = capture();
    createRequestLineWriter(bound.logger.child({ node: 'a' }))(cases[0] as RequestLine);
    expect(JSON.parse(bound.lines[0] as string)).toMatchObject({
      node: 'a',
      reqId: requestId,
      msg: 'request',
    });
  });
});
