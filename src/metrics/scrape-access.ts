import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import ipaddr from 'ipaddr.js';

/** What a scrape of `/metrics` may see (docs/operations.md#metrics). */
export type ScrapeDecision = 'allowed' | 'token-required' | 'loopback-only';

/** Headers a reverse proxy adds: a request that passed through one is not local, whatever its socket. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'] as const;

/** The peer address of the connection itself (never a header) is on the loopback interface. */
export function isLoopback(address: string | undefined): boolean {
  return address !== undefined && ipaddr.isValid(address) && ipaddr.process(address).range() === 'loopback';
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Decides a scrape: a local connection that no proxy forwarded is allowed; anyone else needs
 * `Authorization: Bearer <TOOKEN_METRICS_TOKEN>`, or, when no token is configured, is refused.
 */
export function createScrapeCheck(token: string | null) {
  // Digests have one length, so the comparison takes the same time whatever was presented.
  const expected = token === null ? null : sha256(token);
  return (remoteAddress: string | undefined, headers: IncomingHttpHeaders): ScrapeDecision => {
    const forwarded = FORWARDING_HEADERS.some((name) => headers[name] !== undefined);
    if (!forwarded && isLoopback(remoteAddress)) return 'allowed';
    if (expected === null) return 'loopback-only';
    const presented = /^Bearer +(\S+) *$/i.exec(headers.authorization ?? '')?.[1];
    if (presented === undefined) return 'token-required';
    return timingSafeEqual(sha256(presented), expected) ? 'allowed' : 'token-required';
  };
}
