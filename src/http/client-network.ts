import ipaddr from 'ipaddr.js';

/**
 * The network a client address stands for when counting requests per client: an IPv4 address
 * itself (IPv4-mapped IPv6 included), and the /64 of an IPv6 address, since a single subscriber
 * commonly holds a whole /64 and could otherwise pick a fresh address per request.
 */
export function clientNetwork(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const parsed = ipaddr.process(ip);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
}
