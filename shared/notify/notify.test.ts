/**
 * The notify kernel service on both real drivers (sql.js as in the browser node, better-sqlite3 as on
 * the headless node): VAPID keys survive a restart from the cartridge, the browser node's path through
 * its LocalNotifier, and the pure checks (templates, app URLs). The Web Push path against a real push
 * service stand-in is in node/notify.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { openCartridge } from '../cartridge/index.js';
import { createKernel } from '../kernel.js';
import type { LocalNotification } from '../ports.js';
import { appUrl, nodeUrl, renderTemplate, validateNotifyRules } from './index.js';

for (const d of drivers) {
  describe(`notify on ${d.name}`, () => {
    it('VAPID keys are made once and read back after a restart from the cartridge', async () => {
      const db = await d.open();
      const k = createKernel({ cartridge: openCartridge(db) });
      const a = await k.notify.vapidKeys();
      expect(await k.notify.vapidKeys()).toEqual(a);
      const again = await d.reopen(db);
      const k2 = createKernel({ cartridge: openCartridge(again) });
      expect(await k2.notify.vapidKeys()).toEqual(a);
      // the private key signs what the public key verifies (ES256, RFC 8292)
      const pub = Uint8Array.from(atob(a.publicKey.replace(/-/g, '+').replace(/_/g, '/') + '='), (c) => c.charCodeAt(0));
      const jwk = { kty: 'EC', crv: 'P-256', d: a.privateKey, x: toB64u(pub.subarray(1, 33)), y: toB64u(pub.subarray(33)) };
      const priv = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
      const pubKey = await crypto.subtle.importKey('raw', pub, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
      const data = new TextEncoder().encode('jwt');
      const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, priv, data);
      expect(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, pubKey, sig, data)).toBe(true);
      again.close();
    });

    it('the browser node shows the owner\'s notifications on its own device; others get nothing there; a refusal is a failed report', async () => {
      const shown: LocalNotification[] = [];
      let refuse = false;
      const k = createKernel({
        cartridge: openCartridge(await d.open()),
        ports: {
          notifier: {
            show: async (n) => {
              if (refuse) throw new Error('Notifications are not allowed on this device');
              shown.push(n);
            },
          },
        },
        notify: { appPathPrefix: '/~device/a/' },
      });
      const r = await k.notify.send({ to: 'owner', title: 'Hi', body: 'there', url: '/#/apps', tag: 't' });
      expect(r).toMatchObject([{ subscriptionId: 'local', device: 'this device', status: 'shown', attempts: 1 }]);
      expect(shown).toEqual([{ title: 'Hi', body: 'there', url: '/#/apps', tag: 't', icon: '/icons/icon-192.png', app: undefined }]);
      expect(await k.notify.send({ to: { userId: 'someone' }, title: 'Not here' })).toEqual([]);
      refuse = true;
      const [f] = await k.notify.send({ to: 'owner', title: 'Hi' });
      expect(f).toMatchObject({ status: 'failed', error: expect.stringMatching(/not allowed/) });
    });
  });
}

function toB64u(b: Uint8Array): string {
  return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

describe('notify checks', () => {
  it('templates fill {{type}}, {{app}}, {{payload.x.y}} and leave missing values empty', () => {
    const ctx = { type: 'note.created', app: 'Notes', payload: { id: 7, note: { title: 'Milk', tags: ['a'] }, n: null } };
    expect(renderTemplate('{{app}}: {{ payload.note.title }} #{{payload.id}} {{payload.note.tags}} [{{payload.nope.deeper}}] [{{payload.n}}] {{type}}', ctx, 200)).toBe(
      'Notes: Milk #7 ["a"] [] [] note.created',
    );
    expect(renderTemplate('{{payload.__proto__}}|{{payload.constructor}}', ctx, 200)).toBe('|');
    expect(renderTemplate('x'.repeat(10) + '{{type}}', ctx, 12)).toBe('xxxxxxxxxxno');
  });

  it('rules are refused at deploy for the reasons a person can fix', () => {
    const rule = { on: 'a.b', title: 'T' };
    expect(() => validateNotifyRules(undefined, [])).not.toThrow();
    expect(() => validateNotifyRules([rule], ['notify'])).not.toThrow();
    expect(() => validateNotifyRules([rule], [])).toThrow(/notify" permission/);
    expect(() => validateNotifyRules([{ on: 'a.b' }], ['notify'])).toThrow(/"title" must be a non-empty string/);
    expect(() => validateNotifyRules([{ ...rule, body: 5 }], ['notify'])).toThrow(/"body" must be a string/);
    expect(() => validateNotifyRules([{ ...rule, title: '{{env.KEY}}' }], ['notify'])).toThrow(/placeholders are/);
    expect(() => validateNotifyRules(Array.from({ length: 21 }, () => rule), ['notify'])).toThrow(/at most 20/);
    expect(() => validateNotifyRules('x', ['notify'])).toThrow(/list of rules/);
  });

  it('app notifications open only the app; node notifications a node path or https', () => {
    expect(appUrl('notes', undefined)).toBe('/#/open/notes');
    expect(appUrl('notes', '/a/b?c=1')).toBe('/#/open/notes/a%2Fb%3Fc%3D1');
    for (const bad of ['https://evil.example/', '//evil.example/', 'javascript:alert(1)', '\\\\evil']) expect(() => appUrl('notes', bad)).toThrow(/path inside the app/);
    expect(nodeUrl('/#/settings')).toBe('/#/settings');
    expect(nodeUrl('https://example.com/x')).toBe('https://example.com/x');
    for (const bad of ['//evil.example', 'http://x', 'javascript:1', 'x']) expect(() => nodeUrl(bad)).toThrow(/path on the node/);
  });
});
