import { describe, expect, it } from 'vitest';
import { isPublicAddress } from './address.js';

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
});
