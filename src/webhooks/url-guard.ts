import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isPublicAddress } from './address.js';

export type Resolve = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolve: Resolve = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export class UnsafeUrlError extends Error {}

/**
 * Checks a webhook URL and returns the address to connect to (docs/webhooks.md#managing-endpoints): `https://` only, and
 * every address the host resolves to must be public unicast, unless private targets are allowed
 * (development and tests, which may also use `http://`). Run at save time and again before every
 * send, and the send connects to exactly the address checked, so DNS cannot be switched between.
 */
export async function resolveSafeTarget(
  rawUrl: string,
  allowPrivate: boolean,
  resolve: Resolve = systemResolve,
): Promise<{ url: URL; address: string; family: 4 | 6 }> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new UnsafeUrlError('is not a valid URL');
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) {
    throw new UnsafeUrlError('must use https://');
  }
  if (url.username || url.password) throw new UnsafeUrlError('must not contain credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: LookupAddress[];
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await resolve(host);
    } catch {
      throw new UnsafeUrlError(`host ${host} does not resolve`);
    }
  }
  const first = addresses[0];
  if (first === undefined) throw new UnsafeUrlError(`host ${host} does not resolve`);
  // Never name the address: what a name resolves to inside this network is not the caller's to learn.
  if (!allowPrivate && addresses.some((a) => !isPublicAddress(a.address))) {
    throw new UnsafeUrlError(
      isIP(host) ? 'is not a public address' : `an address of host ${host} is not a public address`,
    );
  }
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
