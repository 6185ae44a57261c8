import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

const rules = <T extends { cidr: string }>(list: T[]) =>
  Object.freeze(list.map((rule) => Object.freeze({ ...rule, range: ipaddr.parseCIDR(rule.cidr) })));

/**
 * Where a webhook may never be sent, first match wins. Taken from the IANA special-purpose registries
 * (entries not globally reachable), plus multicast and everything outside IPv6 global unicast, so a
 * tenant cannot reach this host, its network, cloud metadata, or a tunnel that leads back to them.
 */
const REFUSED = rules([
  { name: 'this network', cidr: '0.0.0.0/8', why: 'connecting to 0.0.0.0 reaches this host' },
  { name: 'private', cidr: '10.0.0.0/8', why: 'RFC 1918 internal network' },
  { name: 'carrier-grade NAT', cidr: '100.64.0.0/10', why: 'shared space inside a provider network' },
  { name: 'loopback', cidr: '127.0.0.0/8', why: 'this host' },
  { name: 'link-local', cidr: '169.254.0.0/16', why: 'includes cloud metadata at 169.254.169.254' },
  { name: 'private', cidr: '172.16.0.0/12', why: 'RFC 1918 internal network' },
  { name: 'IETF protocol', cidr: '192.0.0.0/24', why: 'protocol assignments, not receivers' },
  { name: 'documentation', cidr: '192.0.2.0/24', why: 'TEST-NET-1, never routed' },
  { name: '6to4 relay', cidr: '192.88.99.0/24', why: 'deprecated anycast relay that tunnels onward' },
  { name: 'private', cidr: '192.168.0.0/16', why: 'RFC 1918 internal network' },
  { name: 'benchmarking', cidr: '198.18.0.0/15', why: 'lab networks' },
  { name: 'documentation', cidr: '198.51.100.0/24', why: 'TEST-NET-2, never routed' },
  { name: 'documentation', cidr: '203.0.113.0/24', why: 'TEST-NET-3, never routed' },
  { name: 'multicast', cidr: '224.0.0.0/4', why: 'a group, not one receiver' },
  { name: 'broadcast', cidr: '255.255.255.255/32', why: 'every host on the local network' },
  { name: 'reserved', cidr: '240.0.0.0/4', why: 'never allocated' },
  { name: 'unspecified', cidr: '::/128', why: 'connecting to :: reaches this host' },
  { name: 'loopback', cidr: '::1/128', why: 'this host' },
  { name: 'IPv4-compatible', cidr: '::/96', why: 'deprecated; nothing legitimate resolves to it' },
  { name: 'IPv4-translated', cidr: '::ffff:0:0:0/96', why: 'SIIT, internal to a translator' },
  { name: 'local-use NAT64', cidr: '64:ff9b:1::/48', why: 'site translator that may reach internal IPv4' },
  { name: 'discard', cidr: '100::/64', why: 'black hole' },
  { name: 'IETF protocol', cidr: '2001::/23', why: 'includes Teredo 2001::/32, which tunnels to any IPv4' },
  { name: 'documentation', cidr: '2001:db8::/32', why: 'never routed' },
  { name: 'documentation', cidr: '3fff::/20', why: 'never routed' },
  { name: 'segment routing', cidr: '5f00::/16', why: 'SRv6 identifiers, internal to a domain' },
  { name: 'unique local', cidr: 'fc00::/7', why: 'the IPv6 counterpart of RFC 1918' },
  { name: 'link-local', cidr: 'fe80::/10', why: 'the local segment' },
  { name: 'site-local', cidr: 'fec0::/10', why: 'deprecated, still internal where used' },
  { name: 'multicast', cidr: 'ff00::/8', why: 'a group, not one receiver' },
  { name: 'not global unicast', cidr: '::/3', why: 'only 2000::/3 is allocated for global unicast' },
  { name: 'not global unicast', cidr: '4000::/2', why: 'only 2000::/3 is allocated for global unicast' },
  { name: 'not global unicast', cidr: '8000::/1', why: 'only 2000::/3 is allocated for global unicast' },
]);

/** Packets to these reach the IPv4 address inside them (at byte `at`), so they are judged as it. */
const EMBEDS_IPV4 = rules([
  { name: 'IPv4-mapped', cidr: '::ffff:0:0/96', at: 12 },
  { name: 'NAT64', cidr: '64:ff9b::/96', at: 12 }, // DNS64 answers with these for public IPv4 hosts
  { name: '6to4', cidr: '2002::/16', at: 2 },
]);

/**
 * Reads only what node:net calls an IP: ipaddr.js alone also takes 127.1, octal and hex octets, and
 * reads ::a.b.c.d as ::ffff:a.b.c.d. The WHATWG URL parser spells IPv6 in plain hex, giving ipaddr.js
 * the bytes the socket will use, and rejects zone ids, which only name a local interface.
 */
function parse(address: string) {
  try {
    if (isIP(address) === 4) return ipaddr.IPv4.parse(address);
    if (isIP(address) === 6) return ipaddr.IPv6.parse(new URL(`http://[${address}]`).hostname.slice(1, -1));
    return undefined;
  } catch {
    return undefined;
  }
}

/** Why a webhook must not connect to `address`, or undefined when it is public unicast. */
export function addressRefusal(address: string): string | undefined {
  const ip = parse(address);
  if (!ip) return 'not an IP address';
  const kind = ip.kind();
  const embed = EMBEDS_IPV4.find((rule) => rule.range[0].kind() === kind && ip.match(rule.range));
  if (embed) {
    const inner = ipaddr.fromByteArray(ip.toByteArray().slice(embed.at, embed.at + 4)).toString();
    const why = addressRefusal(inner);
    return why && `${embed.name} form of ${inner}, ${why}`;
  }
  const rule = REFUSED.find((r) => r.range[0].kind() === kind && ip.match(r.range));
  return rule && `${rule.name} (${rule.cidr}): ${rule.why}`;
}

/** Whether a webhook may connect to `address`; anything unparseable is refused. */
export function isPublicAddress(address: string): boolean {
  return addressRefusal(address) === undefined;
}
