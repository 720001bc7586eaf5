import { describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { openCartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import { PermissionSchema } from './manifest.js';
import { allowsEventsFrom, allowsNetHost, isPrivateAddress, PermissionStore, PERMISSION_PATTERN } from './permissions.js';

for (const d of drivers) {
  describe(`PermissionStore on ${d.name}`, () => {
    async function setup() {
      let now = 1_000;
      const db = await d.open();
      const cart = openCartridge(db, { clock: { now: () => now } });
      return { db, cart, store: new PermissionStore(cart), setNow: (n: number) => (now = n) };
    }

    it('grants, lists, revokes, re-grants; idempotent grants keep their time and HLC', async () => {
      const { db, cart, store, setNow } = await setup();
      expect(store.granted('app')).toEqual([]);
      store.grant('app', ['net:api.example.com', 'ai', 'ai']);
      expect(store.granted('app')).toEqual(['ai', 'net:api.example.com']);
      const before = db.get<{ granted_at: number; hlc: string; node_id: string }>('SELECT granted_at, hlc, node_id FROM app_permissions WHERE permission = ?', ['ai'])!;
      expect(before).toMatchObject({ granted_at: 1_000, node_id: cart.nodeId });
      setNow(2_000);
      store.grant('app', ['ai']);
      expect(db.get('SELECT granted_at, hlc, node_id FROM app_permissions WHERE permission = ?', ['ai'])).toEqual(before);
      expect(store.revoke('app', 'ai')).toBe(true);
      expect(store.revoke('app', 'ai')).toBe(false);
      expect(store.revoke('app', 'never')).toBe(false);
      expect(store.granted('app')).toEqual(['net:api.example.com']);
      const tomb = db.get<{ deleted: number; hlc: string }>('SELECT deleted, hlc FROM app_permissions WHERE permission = ?', ['ai'])!;
      expect(tomb.deleted).toBe(1);
      expect(tomb.hlc > before.hlc).toBe(true);
      setNow(3_000);
      store.grant('app', ['ai']);
      expect(store.granted('app')).toEqual(['ai', 'net:api.example.com']);
      expect(db.get<{ granted_at: number }>('SELECT granted_at FROM app_permissions WHERE permission = ?', ['ai'])!.granted_at).toBe(3_000);
    });

    it('refuses malformed permissions and grants nothing then', async () => {
      const { store } = await setup();
      for (const bad of ['', 'Net:x', 'net:', 'net:a b', 'net:a/b', '1ai', 'net:[::1]', 'net:host:443']) {
        let err: unknown;
        try {
          store.grant('app', ['ai', bad]);
        } catch (e) {
          err = e;
        }
        expect(err, bad).toBeInstanceOf(FaztError);
        expect((err as FaztError).code).toBe('INVALID_ARGUMENT');
      }
      expect(store.granted('app')).toEqual([]);
    });

    it('status splits requested into granted and pending', async () => {
      const { store } = await setup();
      store.grant('app', ['ai', 'net:*', 'notify']);
      expect(store.status('app', ['net:api.example.com', 'ai', 'events:notes', 'ai'])).toEqual({
        requested: ['net:api.example.com', 'ai', 'events:notes'],
        granted: ['ai'],
        pending: ['net:api.example.com', 'events:notes'],
      });
      expect(store.status('app', [])).toEqual({ requested: [], granted: [], pending: [] });
      expect(store.status('other', ['ai'])).toEqual({ requested: ['ai'], granted: [], pending: ['ai'] });
    });

    it('isolates apps', async () => {
      const { store } = await setup();
      store.grant('a', ['ai']);
      store.grant('b', ['notify']);
      expect(store.granted('a')).toEqual(['ai']);
      expect(store.granted('b')).toEqual(['notify']);
      expect(store.revoke('a', 'notify')).toBe(false);
      expect(store.granted('b')).toEqual(['notify']);
    });
  });
}

describe('PERMISSION_PATTERN', () => {
  it('agrees with the manifest schema', () => {
    for (const p of ['ai', 'notify', 'kernel:deploy', 'net:example.com', 'net:*.example.com', 'net:*', 'events:my-app', 'x-y:A_b.c-*', '', 'Ai', 'net:', 'net:a b', 'a:b:c', '-x']) {
      expect(PERMISSION_PATTERN.test(p), p).toBe(PermissionSchema.safeParse(p).success);
    }
  });
});

describe('allowsNetHost', () => {
  const cases: [string[], string, 'public' | 'explicit' | false][] = [
    [['net:example.com'], 'example.com', 'explicit'],
    [['net:example.com'], 'EXAMPLE.com', 'explicit'],
    [['net:Example.COM'], 'example.com', 'explicit'],
    [['net:example.com'], 'example.com:8443', 'explicit'],
    [['net:example.com'], 'example.com.', 'explicit'],
    [['net:example.com'], 'api.example.com', false],
    [['net:example.com'], 'example.com.evil.net', false],
    [['net:example.com'], 'notexample.com', false],
    [['net:example.com'], 'example.co', false],
    [['net:*.example.com'], 'api.example.com', 'public'],
    [['net:*.example.com'], 'a.b.example.com', 'public'],
    [['net:*.example.com'], 'API.Example.Com', 'public'],
    [['net:*.example.com'], 'example.com', false],
    [['net:*.example.com'], 'evilexample.com', false],
    [['net:*.example.com'], 'example.com.evil.net', false],
    [['net:*'], 'anything.org', 'public'],
    [['net:*'], '127.0.0.1', 'public'],
    [['net:*'], '[::1]', 'public'],
    [['net:*', 'net:nas.local'], 'nas.local', 'explicit'],
    [['net:*.example.com', 'net:api.example.com'], 'api.example.com', 'explicit'],
    [['net:*.example.com', 'net:api.example.com'], 'www.example.com', 'public'],
    [['net:192.168.1.20'], '192.168.1.20', 'explicit'],
    [['net:192.168.1.20'], '192.168.1.21', false],
    [['net:localhost'], 'LOCALHOST', 'explicit'],
    [['ai', 'notify', 'events:net'], 'example.com', false],
    [[], 'example.com', false],
    [['net:*'], '', false],
    [['net:a*.example.com'], 'ab.example.com', false],
    [['net:*.*'], 'a.b', false],
    [['net:[::1]'], '::1', 'explicit'],
    [['net:::1'], '[::1]', 'explicit'],
    [['net:2001:db8::1'], '[2001:DB8::1]', 'explicit'],
    [['net:example.com'], '[2001:db8::1]:443', false],
  ];
  for (const [perms, host, want] of cases) {
    it(`${JSON.stringify(perms)} × ${JSON.stringify(host)} → ${want}`, () => {
      expect(allowsNetHost(perms, host)).toBe(want);
    });
  }
});

describe('allowsEventsFrom', () => {
  it('needs events:<name> exactly', () => {
    expect(allowsEventsFrom(['events:notes'], 'notes')).toBe(true);
    expect(allowsEventsFrom(['events:notes'], 'notes2')).toBe(false);
    expect(allowsEventsFrom(['events:notes2'], 'notes')).toBe(false);
    expect(allowsEventsFrom(['net:notes', 'notes'], 'notes')).toBe(false);
    expect(allowsEventsFrom(['events:*'], 'notes')).toBe(false);
    expect(allowsEventsFrom([], 'notes')).toBe(false);
    expect(allowsEventsFrom(['events:'], '')).toBe(false);
  });
});

describe('isPrivateAddress', () => {
  const privateOnes = [
    // IPv4
    '127.0.0.1',
    '127.255.255.254',
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.0.1',
    '192.168.255.255',
    '169.254.169.254',
    '169.254.0.1',
    '100.64.0.1',
    '100.127.255.255',
    '0.0.0.0',
    '0.1.2.3',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '240.0.0.1',
    '192.0.2.10',
    '198.18.0.1',
    '198.19.255.255',
    '198.51.100.7',
    '203.0.113.9',
    '192.0.0.8',
    // WHATWG IPv4 shorthands
    '127.1',
    '0x7f.0.0.1',
    '0x7f000001',
    '2130706433',
    '017700000001',
    '0177.0.0.1',
    '10.1',
    '127.0.0.1.',
    // IPv6
    '::',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    'fe80::1',
    'fe80::1%eth0',
    'FEBF::1',
    'fc00::1',
    'fd12:3456:789a::1',
    'ff02::1',
    'ff05::1:3',
    'fec0::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:192.168.1.1',
    '[::ffff:169.254.169.254]',
    '::ffff:0:127.0.0.1',
    '::127.0.0.1',
    '::8.8.8.8',
    '64:ff9b::127.0.0.1',
    '64:ff9b::a00:1',
    '64:ff9b:1::1',
    '2002:7f00:1::1',
    '2002:c0a8:101::1',
    '2001:db8::1',
    '2001::1',
    '2001:0:4136:e378::1',
    '100::1',
    '3fff::1',
    '5f00::1',
  ];
  const publicOnes = [
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '172.15.255.255',
    '172.32.0.1',
    '192.167.255.255',
    '192.169.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '169.253.255.255',
    '169.255.0.1',
    '11.0.0.1',
    '126.255.255.255',
    '128.0.0.1',
    '223.255.255.255',
    '198.17.255.255',
    '198.20.0.1',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '[2a00:1450:4001:80b::200e]',
    '::ffff:8.8.8.8',
    '::ffff:808:808',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
    '2400:cb00::1',
  ];
  const notIps = ['', 'localhost', 'example.com', '1.2.3.4.5', '256.0.0.1', '1.2.3.256', '1..2.3', '::1::', '1:2:3:4:5:6:7:8:9', 'gggg::1', '12345::1', '::ffff:127.0.0.256', '1.2.3.4::', ':::', 'fe80:::1'];

  for (const ip of privateOnes) it(`${ip} is private`, () => expect(isPrivateAddress(ip)).toBe(true));
  for (const ip of publicOnes) it(`${ip} is public`, () => expect(isPrivateAddress(ip)).toBe(false));
  it('is false for text that is not an IP literal (resolve names first)', () => {
    for (const s of notIps) expect(isPrivateAddress(s), s).toBe(false);
  });
});
