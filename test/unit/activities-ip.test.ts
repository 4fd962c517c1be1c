import { CidrList, classifyIp, parseCidr, parseIp } from '../../src/activities/ip';

describe('classifyIp: blocked IPv4', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.254', 'CGNAT'],
    ['100.100.100.200', 'CGNAT'], // Alibaba Cloud metadata
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'metadata'],
    ['169.254.0.1', 'link-local'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.0.0.8', 'IETF'],
    ['192.0.2.10', 'documentation'],
    ['192.88.99.1', '6to4'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
  ])('%s is blocked (%s)', (address, label) => {
    const c = classifyIp(address);
    expect(c.blocked).toBe(true);
    expect(c.range).toContain(label);
  });
});

describe('classifyIp: public IPv4 at the edges of blocked ranges', () => {
  it.each(['1.1.1.1', '8.8.8.8', '9.255.255.255', '11.0.0.0', '100.63.255.255', '100.128.0.0', '126.255.255.255', '128.0.0.0', '169.253.255.255', '169.255.0.0', '172.15.255.255', '172.32.0.0', '192.0.1.1', '192.167.255.255', '192.169.0.0', '198.17.255.255', '198.20.0.0', '223.255.255.255', '93.184.216.34'])('%s is allowed', (address) => {
    expect(classifyIp(address)).toEqual({ blocked: false, range: 'public' });
  });
});

describe('classifyIp: IPv6', () => {
  it.each([
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback'],
    ['0:0:0:0:0:ffff:7f00:0001', 'IPv4-mapped loopback'],
    ['::ffff:10.1.2.3', 'IPv4-mapped private'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped cloud metadata'],
    ['::ffff:0.0.0.0', 'IPv4-mapped unspecified'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['::7f00:1', 'IPv4-compatible'],
    ['::8.8.8.8', 'IPv4-compatible'],
    ['::ffff:0:127.0.0.1', 'IPv4-translated'],
    ['64:ff9b::127.0.0.1', 'NAT64 loopback'],
    ['64:ff9b::a00:1', 'NAT64 private'],
    ['64:ff9b::169.254.169.254', 'NAT64 cloud metadata'],
    ['64:ff9b:1::1', 'local-use NAT64'],
    ['100::1', 'discard-only'],
    ['2001::1', 'IETF'], // Teredo
    ['2001:2::1', 'IETF'], // benchmarking
    ['2001:db8::1', 'documentation'],
    ['2002:7f00:1::1', '6to4'],
    ['3fff::1', 'documentation'],
    ['5f00::1', 'SRv6'],
    ['fc00::1', 'unique local'],
    ['fd12:3456::1', 'unique local'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'site-local'],
    ['ff02::1', 'multicast'],
    ['4000::1', 'reserved'],
    ['1::1', 'reserved'],
    ['[::1]', 'loopback'],
  ])('%s is blocked (%s)', (address, label) => {
    const c = classifyIp(address);
    expect(c.blocked).toBe(true);
    expect(c.range).toContain(label);
  });

  it.each(['2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '2001:4860:4860::8888', '::ffff:8.8.8.8', '::ffff:808:808', '64:ff9b::8.8.8.8', '2001:200::1'])('%s is allowed', (address) => {
    expect(classifyIp(address).blocked).toBe(false);
  });
});

describe('parsing', () => {
  it('rejects non-addresses and treats them as blocked', () => {
    for (const text of ['', 'example.com', '1.2.3', '1.2.3.4.5', '256.1.1.1', '::g', '1:2:3:4:5:6:7:8:9', '0x7f.0.0.1']) {
      expect(parseIp(text)).toBeNull();
      expect(classifyIp(text).blocked).toBe(true);
    }
  });

  it('expands IPv6 forms to the same bytes', () => {
    const a = parseIp('::ffff:127.0.0.1');
    const b = parseIp('0:0:0:0:0:ffff:7f00:1');
    expect(a && [...a.bytes]).toEqual(b && [...b.bytes]);
    expect(parseIp('1::')?.bytes[1]).toBe(1);
  });

  it('parses CIDR blocks and refuses bad prefixes', () => {
    expect(parseCidr('10.0.0.0/8')?.prefix).toBe(8);
    expect(parseCidr('127.0.0.1')?.prefix).toBe(32);
    expect(parseCidr('fd00::/8')?.prefix).toBe(8);
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(parseCidr('10.0.0.0/x')).toBeNull();
  });
});

describe('CidrList', () => {
  it('matches addresses and the IPv6 forms that reach them', () => {
    const list = new CidrList(['127.0.0.1/32', '10.20.0.0/16', 'fd00::/8']);
    const has = (a: string) => list.has(parseIp(a)!);
    expect(has('127.0.0.1')).toBe(true);
    expect(has('::ffff:127.0.0.1')).toBe(true);
    expect(has('64:ff9b::7f00:1')).toBe(true);
    expect(has('127.0.0.2')).toBe(false);
    expect(has('10.20.255.1')).toBe(true);
    expect(has('10.21.0.1')).toBe(false);
    expect(has('fd12::1')).toBe(true);
    expect(has('fe80::1')).toBe(false);
  });

  it('names an invalid entry', () => {
    expect(() => new CidrList(['10.0.0.0/8', 'nope/3'])).toThrow('nope/3');
  });
});
