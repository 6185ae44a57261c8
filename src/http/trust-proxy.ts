import type { IncomingMessage } from 'node:http';
import type { TrustProxy } from '../config.js';

export type TrustProxyOption = false | string[] | ((address: string, hop: number) => boolean);

/**
 * Fastify's `trustProxy` for the configured proxies. A hop count becomes a function trusting the
 * nearest `n` addresses (the socket peer is hop 0): Fastify itself trusts no hop at all when given
 * a number. Addresses and ranges are handed over as they are (proxy-addr semantics).
 */
export function trustProxyOption(setting: TrustProxy): TrustProxyOption {
  if (setting === false) return false;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return [...setting];
}

/**
 * Whether a request came over https as Fastify's `request.protocol` would say, for the verify fast
 * lane: `X-Forwarded-Proto` counts only from a trusted peer. `undefined` when the proxies are given
 * as a list of addresses (matched by Fastify's own proxy-addr): the lane then leaves the request
 * to Fastify.
 */
export function httpsOf(option: TrustProxyOption): (req: IncomingMessage) => boolean | undefined {
  return (req) => {
    const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
    const forwarded = req.headers['x-forwarded-proto'];
    if (typeof forwarded === 'string' && forwarded !== '' && option !== false) {
      if (typeof option !== 'function') return undefined;
      if (socket.remoteAddress !== undefined && option(socket.remoteAddress, 0)) {
        const last = forwarded.lastIndexOf(',');
        return (last === -1 ? forwarded.trim() : forwarded.slice(last + 1).trim()) === 'https';
      }
    }
    return socket.encrypted === true;
  };
}
