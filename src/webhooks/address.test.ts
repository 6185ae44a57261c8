import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { addressRefusal, isPublicAddress } from './address.js';

describe('public unicast addresses', () => {
  it('refuses every private, loopback, link-local, CGNAT, metadata, multicast and reserved IPv4', () => {
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '100.127.255.254',
      '0.0.0.0',
      '0.1.2.3',
      '224.0.0.1',
      '240.0.0.1',
      '255.255.255.255',
      '192.0.2.10',
      '198.18.0.1',
    ]) {
      expect(isPublicAddress(ip), ip).toBe(false);
    }
  });

  it('accepts public IPv4', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '93.184.216.34']) {
      expect(isPublicAddress(ip), ip).toBe(true);
    }
  });

  it('refuses IPv6 loopback, unique-local, link-local, multicast and mapped private IPv4', () => {
    for (const ip of [
      '::1',
      '::',
      'fc00::1',
      'fd12:3456::1',
      'fe80::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:169.254.169.254',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '64:ff9b::10.0.0.1',
      '2001:db8::1',
      '2001:0:4136:e378:8000:63bf:3fff:fdd2', // Teredo tunnels to an arbitrary IPv4 host
      '2001:2::1', // benchmarking
      '2001:1ff::1', // the rest of the IETF protocol block 2001::/23
    ]) {
      expect(isPublicAddress(ip), ip).toBe(false);
    }
  });

  it('accepts global IPv6 and mapped public IPv4', () => {
    for (const ip of ['2606:4700:4700::1111', '2001:4860:4860::8888', '2001:200::1', '::ffff:8.8.8.8']) {
      expect(isPublicAddress(ip), ip).toBe(true);
    }
  });

  it('refuses what is not an address', () => {
    expect(isPublicAddress('example.com')).toBe(false);
  });

  it('refuses IPv6 spellings of refused IPv4 that octet arithmetic tends to miss', () => {
    for (const ip of [
      '::127.0.0.1', // IPv4-compatible, deprecated
      '::8.8.8.8', // IPv4-compatible is refused outright, whatever it embeds
      '::808:808',
      '::ffff:a9fe:a9fe', // mapped metadata address in hex
      '::FFFF:7F00:1',
      '0:0:0:0:0:ffff:7f00:1',
      '0000:0000:0000:0000:0000:ffff:127.0.0.1',
      '::ffff:0.0.0.0',
      '::ffff:100.64.0.1',
      '::ffff:255.255.255.255',
      '64:ff9b::a00:1',
      '64:ff9b::7f00:1',
      '64:ff9b::169.254.169.254',
      '64:ff9b:1::a00:1', // local-use NAT64 prefix
      '::ffff:0:7f00:1', // IPv4-translated (SIIT)
      '2002:7f00:1::1', // 6to4 around 127.0.0.1
      '2002:c0a8:101::1', // 6to4 around 192.168.1.1
      '0000:0000:0000:0000:0000:0000:0000:0001',
      '0:0:0:0:0:0:0:0',
      '::0:1',
      'FE80::1',
      'fe80::1%eth0',
      'fec0::1',
      'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      'ff00::',
      '100::1',
      '3fff::1',
      '5f00::1',
      '4000::1',
      '1fff:ffff::1',
      '2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff',
    ]) {
      expect(isPublicAddress(ip), ip).toBe(false);
    }
  });

  it('refuses the remaining special-purpose IPv4 ranges, edge to edge', () => {
    for (const ip of [
      '0.255.255.255',
      '10.255.255.255',
      '100.64.0.0',
      '127.255.255.255',
      '169.254.0.0',
      '192.0.0.8',
      '192.0.2.255',
      '192.88.99.1',
      '192.168.255.255',
      '198.19.255.255',
      '198.51.100.1',
      '203.0.113.1',
      '239.255.255.255',
    ]) {
      expect(isPublicAddress(ip), ip).toBe(false);
    }
  });

  it('accepts public addresses just outside refused ranges and in forms that reach a public host', () => {
    for (const ip of [
      '93.184.216.34',
      '1.0.0.0',
      '9.255.255.255',
      '11.0.0.0',
      '100.63.255.255',
      '126.255.255.255',
      '128.0.0.0',
      '169.253.255.255',
      '172.15.255.255',
      '192.0.1.255',
      '192.0.3.0',
      '192.167.255.255',
      '192.169.0.0',
      '198.17.255.255',
      '198.20.0.0',
      '223.255.255.255',
      '2606:4700::1',
      '2606:4700:0000:0000:0000:0000:0000:0001',
      '2A00:1450:4001::1',
      '2001:200::',
      '3ffe::1',
      '::ffff:93.184.216.34',
      '::ffff:808:808',
      '64:ff9b::808:808', // what DNS64 returns for 8.8.8.8
      '64:ff9b::93.184.216.34',
      '2002:808:808::1', // 6to4 around 8.8.8.8
    ]) {
      expect(isPublicAddress(ip), ip).toBe(true);
    }
  });

  it('fails closed on bracketed, padded, short, octal, hex and other non-canonical input', () => {
    for (const input of [
      '',
      '[::1]',
      '[2606:4700::1]',
      ' 8.8.8.8',
      '8.8.8.8 ',
      '8.8.8.8/32',
      '8.8.8',
      '127.1',
      '2130706433',
      '0x7f.0.0.1',
      '0177.0.0.1',
      '010.0.0.1',
      '08.8.8.8',
      '256.1.1.1',
      '1.2.3.4.5',
      '::ffff:0x7f.0.0.1',
      '2606:4700::1::1',
      '2606:4700::g',
      '2606:4700::1%eth0', // a zone on a global address still names a local interface
      'fe80::1%eth-0',
      'localhost',
    ]) {
      expect(isPublicAddress(input), JSON.stringify(input)).toBe(false);
    }
  });

  it('says which range refused an address', () => {
    expect(addressRefusal('8.8.8.8')).toBeUndefined();
    expect(addressRefusal('2606:4700::1')).toBeUndefined();
    expect(addressRefusal('198.18.0.1')).toMatch(/^benchmarking \(198\.18\.0\.0\/15\)/);
    expect(addressRefusal('::ffff:a9fe:a9fe')).toMatch(/^IPv4-mapped form of 169\.254\.169\.254, link-local/);
    expect(addressRefusal('64:ff9b::a00:1')).toMatch(/^NAT64 form of 10\.0\.0\.1, private/);
    expect(addressRefusal('2001:0:4136:e378:8000:63bf:3fff:fdd2')).toMatch(/^IETF protocol \(2001::\/23\)/);
    expect(addressRefusal('example.com')).toBe('not an IP address');
  });
});

describe('agreement with ipaddr.js range()', () => {
  it('refuses exactly the IPv4 that ipaddr.js calls special, bar the public AS112 and AMT anycast', () => {
    const publicRanges = new Set(['unicast', 'as112', 'amt']);
    const samples: string[] = [];
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b++) samples.push(`${a}.${b}.0.1`, `${a}.${b}.255.254`);
    }
    // Every /24 of the /16s that hold /24 entries in either table.
    for (const ab of ['192.0', '192.31', '192.52', '192.88', '192.175', '198.51', '203.0']) {
      for (let c = 0; c < 256; c++) samples.push(`${ab}.${c}.1`);
    }
    const disagreements = samples.filter(
      (ip) => isPublicAddress(ip) !== publicRanges.has(ipaddr.IPv4.parse(ip).range()),
    );
    expect(disagreements).toEqual([]);
  });
});
