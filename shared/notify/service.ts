import type { AppRegistry } from '../apps/registry.js';
import type { PermissionStore } from '../apps/permissions.js';
import { getMeta, setMeta, type Cartridge } from '../cartridge/index.js';
import { FaztError, isFaztError } from '../errors.js';
import type { EventRecord } from '../events/index.js';
import { toBase64Url } from '../lib/encoding.js';
import type { LocalNotifier, Logger, PushSender } from '../ports.js';
import type { SecretStore } from '../storage/index.js';
import { appUrl, checkMessageFields, checkTarget, MAX_BODY, MAX_PAYLOAD_BYTES, MAX_TAG, MAX_TITLE, MAX_URL, nodeUrl, type NotifyMessage, type PushPayload } from './message.js';
import { renderTemplate, rulesFor } from './rules.js';
import { checkDeviceLabel, checkSubscription, pushServiceName } from './subscription.js';

/**
 * Notifications (docs/notify.md): this node's VAPID key pair, the browsers subscribed to Web Push
 * per device and user, and sending — with retries — to the devices a message is addressed to.
 *
 * - VAPID keys (RFC 8292) are made on first need with Web Crypto (ECDSA P-256) and kept in the
 *   cartridge: the public key in `cartridge_meta` `notify.vapid.public`, the private key sealed with
 *   the secrets key (`SecretStore.seal`, purpose `vapid private key`) in `notify.vapid.private`.
 * - Sending goes through the host's {@link PushSender} (the Node host: `web-push`). A 404 or 410
 *   from the push service removes the subscription (RFC 8030 §7.3: it is gone); 429, 5xx and
 *   network failures are retried with exponential backoff (bounded: {@link NotifyOptions.maxAttempts});
 *   every failure is logged.
 * - On a host without a sender but with a {@link LocalNotifier} (the browser node), a message to
 *   the owner is shown on this device directly.
 * - A family member's device receives only messages addressed to that member (`{ userId }`); the
 *   owner's devices receive those addressed to `'owner'`.
 */

/** Options of {@link NotifyService}. */
export interface NotifyOptions {
  /** The VAPID `sub` claim: a `mailto:` or `https:` contact for push services (RFC 8292 §2.1). Default `mailto:owner@fazt.invalid`. */
  subject?: string;
  /** Attempts per device, the first included (default 3). */
  maxAttempts?: number;
  /** Wait before the first retry, ms; then doubled each time (default 1,000). */
  retryBaseMs?: number;
  /** Longest wait between attempts, ms, also for a push service's `Retry-After` (default 30,000). */
  maxRetryDelayMs?: number;
  /** One request's timeout, ms (default 15,000). */
  timeoutMs?: number;
  /** How long a push service keeps a message for an offline device, seconds (default 86,400 = 1 day). */
  ttlSeconds?: number;
  /** Path prefix of apps' files (icons), default `/a/` (the browser node: `/~device/a/`). */
  appPathPrefix?: string;
  /** Sleeps `ms` (tests pass a fake). Default `setTimeout`. */
  sleep?: (ms: number) => Promise<void>;
}

/** A stored subscription as listed (never its keys). */
export interface PushSubscriptionRecord {
  /** Stable id (UUID). */
  id: string;
  /** The user whose device it is. */
  userId: string;
  /** The device's label (given at subscribe, else the push service's name). */
  device: string;
  /** The push service's host (`fcm.googleapis.com`). */
  service: string;
  /** ms since epoch. */
  createdAt: number;
  /** When it expires, ms since epoch, or `null`. */
  expirationTime: number | null;
  /** Last successful delivery, ms since epoch, or `null`. */
  lastSuccessAt: number | null;
  /** Last failed delivery, ms since epoch, or `null`. */
  lastFailureAt: number | null;
  /** What the last failure was, or `null`. */
  lastError: string | null;
  /** Failures since the last success. */
  failures: number;
}

/** How one device's delivery ended. */
export type DeliveryStatus = 'sent' | 'expired' | 'failed' | 'shown';

/** One device's delivery (`kernel.notify.send` returns one per device). */
export interface DeliveryReport {
  /** The subscription's id; `"local"` for this very device (browser node). */
  subscriptionId: string;
  /** The device's label. */
  device: string;
  /** The device's user. */
  userId: string;
  /**
   * `sent`: the push service accepted it (2xx); `expired`: it answered 404/410 and the subscription
   * was removed; `failed`: refused or still failing after the last attempt; `shown`: shown on this
   * device directly (browser node).
   */
  status: DeliveryStatus;
  /** The push service's last HTTP status, or `null` when none answered. */
  statusCode: number | null;
  /** Attempts made. */
  attempts: number;
  /** Why it failed, when it did. */
  error?: string;
  /** ms from the first attempt to the end. */
  ms: number;
}

/** `cartridge_meta` keys of the VAPID key pair. */
export const VAPID_PUBLIC_META = 'notify.vapid.public';
/** `cartridge_meta` key of the sealed VAPID private key (hex). */
export const VAPID_PRIVATE_META = 'notify.vapid.private';
const SEAL_PURPOSE = 'vapid private key';
/** User id recorded for subscriptions made with an API token when no owner account exists yet; counts as the owner. */
export const OWNER_SENTINEL = 'owner';

interface SubRow {
  id: string;
  user_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  expiration_time: number | null;
  device: string;
  created_at: number;
  last_success_at: number | null;
  last_failure_at: number | null;
  last_error: string | null;
  failures: number;
}

const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const fromHex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

function record(r: SubRow): PushSubscriptionRecord {
  return {
    id: r.id,
    userId: r.user_id,
    device: r.device,
    service: new URL(r.endpoint).host,
    createdAt: r.created_at,
    expirationTime: r.expiration_time,
    lastSuccessAt: r.last_success_at,
    lastFailureAt: r.last_failure_at,
    lastError: r.last_error,
    failures: r.failures,
  };
}

/** The kernel's notifications (`kernel.notify`). */
export class NotifyService {
  private vapid: Promise<{ publicKey: string; privateKey: string }> | undefined;
  private readonly o: Required<Omit<NotifyOptions, 'sleep'>> & { sleep: (ms: number) => Promise<void> };
  /** Deliveries that failed for good since start (for Pulse). */
  failures = 0;
  /** Deliveries accepted since start. */
  sent = 0;

  /**
   * @param deps the cartridge, the secrets store (seals the VAPID private key), apps and grants
   *   (an app's name, icon and `notify` permission), and the host's sender / local notifier / logger.
   */
  constructor(
    private readonly cart: Cartridge,
    private readonly deps: {
      secrets: SecretStore;
      apps: AppRegistry;
      permissions: PermissionStore;
      push?: PushSender;
      notifier?: LocalNotifier;
      logger: Logger;
      /** Appends to an app's log (failures of its notifications show there). */
      appLog?: (appId: string, level: 'info' | 'warn' | 'error', message: string, data?: unknown) => void;
      /** Called once per delivery that finally failed (Pulse counts them). */
      onDeliveryFailed?: () => void;
    },
    options: NotifyOptions = {},
  ) {
    this.o = {
      subject: options.subject ?? 'mailto:owner@fazt.invalid',
      maxAttempts: Math.max(1, options.maxAttempts ?? 3),
      retryBaseMs: options.retryBaseMs ?? 1000,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      timeoutMs: options.timeoutMs ?? 15_000,
      ttlSeconds: options.ttlSeconds ?? 86_400,
      appPathPrefix: options.appPathPrefix ?? '/a/',
      sleep: options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    };
  }

  private get db() {
    return this.cart.db;
  }

  // ---------------------------------------------------------------- VAPID

  /**
   * This node's VAPID key pair (RFC 8292), made on first need (ECDSA P-256 with Web Crypto) and kept
   * in the cartridge. Keys are base64url: public the 65-byte uncompressed point (what a browser passes
   * as `applicationServerKey`), private the 32-byte scalar.
   * @throws FaztError `INTERNAL` when the stored private key cannot be opened (the cartridge moved
   *   without its `FAZT_SECRET_KEY`).
   */
  vapidKeys(): Promise<{ publicKey: string; privateKey: string }> {
    return (this.vapid ??= this.loadOrCreateVapid().catch((e) => {
      this.vapid = undefined;
      throw e;
    }));
  }

  /** The VAPID public key (base64url, 65 bytes): `GET /api/push/vapid-public-key`. */
  async vapidPublicKey(): Promise<string> {
    return (await this.vapidKeys()).publicKey;
  }

  private stored(): { publicKey: string; privateKey: string } | undefined {
    const pub = getMeta(this.db, VAPID_PUBLIC_META);
    const priv = getMeta(this.db, VAPID_PRIVATE_META);
    if (!pub || !priv) return undefined;
    return { publicKey: pub, privateKey: toBase64Url(this.deps.secrets.open(SEAL_PURPOSE, fromHex(priv))) };
  }

  private async loadOrCreateVapid(): Promise<{ publicKey: string; privateKey: string }> {
    const have = this.stored();
    if (have) return have;
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const pub = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
    if (!jwk.d) throw new FaztError('INTERNAL', 'Web Crypto did not export the VAPID private key.');
    const d = Uint8Array.from(atob(jwk.d.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((jwk.d.length + 3) % 4)), (c) => c.charCodeAt(0));
    this.db.transaction(() => {
      // another connection may have made a pair first: keep theirs (subscriptions are bound to it)
      if (getMeta(this.db, VAPID_PUBLIC_META) !== undefined) return;
      setMeta(this.db, VAPID_PUBLIC_META, toBase64Url(pub));
      setMeta(this.db, VAPID_PRIVATE_META, toHex(this.deps.secrets.seal(SEAL_PURPOSE, d)));
    });
    this.deps.logger.info('notify: made this node\'s VAPID key pair');
    return this.stored()!;
  }

  // ---------------------------------------------------------------- subscriptions

  /** The owner's user id (or {@link OWNER_SENTINEL} before the owner account exists). */
  ownerId(): string {
    return this.db.get<{ id: string }>("SELECT id FROM users WHERE role = 'owner' AND deleted = 0")?.id ?? OWNER_SENTINEL;
  }

  /** True when `userId` is the owner (or the sentinel that stands for the owner). */
  isOwner(userId: string): boolean {
    return userId === OWNER_SENTINEL || userId === this.ownerId();
  }

  /**
   * Stores a browser's subscription for a user; the same endpoint subscribed again is updated (new
   * keys, user, label) and keeps its id.
   * @param userId whose device it is (the session's user; the owner for tokens).
   * @param input `PushSubscription.toJSON()`, see `checkSubscription`.
   * @param device an optional label (≤ 100 characters); default: the push service's name.
   * @returns the record and whether it was new.
   * @throws FaztError `BAD_REQUEST` for a malformed subscription or label.
   */
  subscribe(userId: string, input: unknown, device?: unknown): { subscription: PushSubscriptionRecord; created: boolean } {
    const s = checkSubscription(input, this.cart.clock.now());
    const label = checkDeviceLabel(device) ?? pushServiceName(s.endpoint);
    return this.db.transaction(() => {
      const old = this.db.get<{ id: string }>('SELECT id FROM push_subscriptions WHERE endpoint = ?', [s.endpoint]);
      const id = old?.id ?? crypto.randomUUID();
      if (old) {
        this.db.run('UPDATE push_subscriptions SET user_id = ?, p256dh = ?, auth = ?, expiration_time = ?, device = ?, failures = 0, last_error = NULL WHERE id = ?', [
          userId,
          s.keys.p256dh,
          s.keys.auth,
          s.expirationTime,
          label,
          id,
        ]);
      } else {
        this.db.run('INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, expiration_time, device, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
          id,
          userId,
          s.endpoint,
          s.keys.p256dh,
          s.keys.auth,
          s.expirationTime,
          label,
          this.cart.clock.now(),
        ]);
      }
      return { subscription: record(this.db.get<SubRow>('SELECT * FROM push_subscriptions WHERE id = ?', [id])!), created: !old };
    });
  }

  /** Subscriptions, oldest first: of one user, or every user's when `userId` is omitted. */
  list(userId?: string): PushSubscriptionRecord[] {
    const rows =
      userId === undefined
        ? this.db.query<SubRow>('SELECT * FROM push_subscriptions ORDER BY created_at, id')
        : this.db.query<SubRow>('SELECT * FROM push_subscriptions WHERE user_id = ? ORDER BY created_at, id', [userId]);
    return rows.map(record);
  }

  /** One subscription by id, or `undefined`. */
  get(id: string): PushSubscriptionRecord | undefined {
    const r = this.db.get<SubRow>('SELECT * FROM push_subscriptions WHERE id = ?', [id]);
    return r && record(r);
  }

  /**
   * Removes a subscription (the device stops receiving).
   * @param userId when given, only that user's subscription is removed.
   * @returns true when it existed (and belonged to `userId`).
   */
  remove(id: string, userId?: string): boolean {
    return (
      (userId === undefined
        ? this.db.run('DELETE FROM push_subscriptions WHERE id = ?', [id])
        : this.db.run('DELETE FROM push_subscriptions WHERE id = ? AND user_id = ?', [id, userId])
      ).changes > 0
    );
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends a notification to every device of its recipient, each with retries, and reports each
   * delivery. Devices are tried concurrently; the promise settles when every device has an outcome
   * (bounded: at most {@link NotifyOptions.maxAttempts} attempts, each within the timeout).
   * @returns one report per device (empty when the recipient has no subscribed device).
   * @throws FaztError `INVALID_ARGUMENT` for a bad message or recipient, or an app `url` that leaves
   *   the app; `LIMIT_EXCEEDED` when the payload would exceed a push message's 3,993 bytes;
   *   `APP_NOT_FOUND` for an unknown `appId`.
   */
  async send(msg: NotifyMessage): Promise<DeliveryReport[]> {
    const to = checkTarget(msg?.to);
    const f = checkMessageFields(msg);
    let payload: PushPayload;
    if (msg.appId !== undefined) {
      const app = this.deps.apps.resolve(msg.appId);
      if (!app) throw new FaztError('APP_NOT_FOUND', `notify: no app with id "${String(msg.appId).slice(0, 80)}".`);
      const manifest = app.currentVersion === null ? undefined : this.deps.apps.manifest(app.id, app.currentVersion);
      const icon = manifest?.icon ? `${this.o.appPathPrefix}${encodeURIComponent(app.name)}/${manifest.icon.replace(/^\/+/, '')}` : '/icons/icon-192.png';
      payload = { v: 'fazt-notify/1', title: f.title, body: f.body, url: appUrl(app.name, f.url), icon, tag: f.tag, app: app.name };
    } else {
      payload = { v: 'fazt-notify/1', title: f.title, body: f.body, url: nodeUrl(f.url), icon: '/icons/icon-192.png', tag: f.tag };
    }
    const json = JSON.stringify(payload);
    const bytes = new TextEncoder().encode(json).length;
    if (bytes > MAX_PAYLOAD_BYTES) throw new FaztError('LIMIT_EXCEEDED', `notify: the message is ${bytes} bytes as sent; a push message carries at most ${MAX_PAYLOAD_BYTES}. Shorten the body.`);

    const owner = to === 'owner';
    if (!this.deps.push && this.deps.notifier) {
      // the browser node: its own device is the owner's device
      if (!owner) return [];
      const t0 = Date.now();
      try {
        await this.deps.notifier.show({ title: payload.title, body: payload.body, icon: payload.icon, tag: payload.tag, url: payload.url, app: payload.app });
        this.sent++;
        return [{ subscriptionId: 'local', device: 'this device', userId: this.ownerId(), status: 'shown', statusCode: null, attempts: 1, ms: Date.now() - t0 }];
      } catch (e) {
        this.failures++;
        this.deps.onDeliveryFailed?.();
        const error = String((e as Error)?.message ?? e);
        this.deps.logger.warn('notify: showing on this device failed', { error });
        return [{ subscriptionId: 'local', device: 'this device', userId: this.ownerId(), status: 'failed', statusCode: null, attempts: 1, error, ms: Date.now() - t0 }];
      }
    }
    const rows = owner
      ? this.db.query<SubRow>('SELECT * FROM push_subscriptions WHERE user_id IN (?, ?) ORDER BY created_at, id', [this.ownerId(), OWNER_SENTINEL])
      : this.db.query<SubRow>('SELECT * FROM push_subscriptions WHERE user_id = ? ORDER BY created_at, id', [(to as { userId: string }).userId]);
    if (!rows.length) return [];
    const vapid = await this.vapidKeys();
    const topic = f.tag && /^[A-Za-z0-9_-]{1,32}$/.test(f.tag) ? f.tag : undefined;
    const now = this.cart.clock.now();
    return Promise.all(
      rows.map((r) => {
        // past the expiry the browser gave: the push service would refuse it (RFC 8030 §7.3)
        if (r.expiration_time !== null && r.expiration_time <= now) {
          this.remove(r.id);
          this.deps.logger.info('notify: subscription past its expirationTime, removed', { subscription: r.id, device: r.device });
          return { subscriptionId: r.id, device: r.device, userId: r.user_id, status: 'expired' as const, statusCode: null, attempts: 0, error: 'the subscription expired (its expirationTime passed)', ms: 0 };
        }
        return this.deliver(r, json, vapid, topic, msg.appId);
      }),
    );
  }

  /** One device: attempts with backoff; records the outcome on the subscription. */
  private async deliver(r: SubRow, payload: string, vapid: { publicKey: string; privateKey: string }, topic: string | undefined, appId: string | undefined): Promise<DeliveryReport> {
    const t0 = Date.now();
    const base = { subscriptionId: r.id, device: r.device, userId: r.user_id };
    const push = this.deps.push;
    if (!push) {
      const error = 'This node cannot send Web Push (its host has no push sender).';
      this.fail(r, error, appId, 0, null);
      return { ...base, status: 'failed', statusCode: null, attempts: 0, error, ms: 0 };
    }
    let statusCode: number | null = null;
    let error = '';
    let attempts = 0;
    for (let attempt = 1; attempt <= this.o.maxAttempts; attempt++) {
      attempts = attempt;
      let retryAfter: number | undefined;
      try {
        const res = await push.send({ endpoint: r.endpoint, keys: { p256dh: r.p256dh, auth: r.auth } }, payload, {
          vapid: { subject: this.o.subject, ...vapid },
          ttlSeconds: this.o.ttlSeconds,
          urgency: 'normal',
          topic,
          timeoutMs: this.o.timeoutMs,
        });
        statusCode = res.statusCode;
        if (res.statusCode >= 200 && res.statusCode < 300) {
          this.db.run('UPDATE push_subscriptions SET last_success_at = ?, failures = 0, last_error = NULL WHERE id = ?', [this.cart.clock.now(), r.id]);
          this.sent++;
          return { ...base, status: 'sent', statusCode, attempts: attempt, ms: Date.now() - t0 };
        }
        error = `the push service answered ${res.statusCode}${res.body ? `: ${res.body.slice(0, 200)}` : ''}`;
        if (res.statusCode === 404 || res.statusCode === 410) {
          this.remove(r.id);
          this.deps.logger.info('notify: subscription expired, removed', { subscription: r.id, device: r.device, status: res.statusCode });
          return { ...base, status: 'expired', statusCode, attempts: attempt, error, ms: Date.now() - t0 };
        }
        if (res.statusCode !== 429 && res.statusCode < 500) break; // refused: retrying cannot help
        retryAfter = res.retryAfterSeconds;
      } catch (e) {
        error = `no answer from the push service: ${String((e as Error)?.message ?? e).slice(0, 200)}`;
      }
      if (attempt < this.o.maxAttempts) {
        const wait = Math.min(this.o.maxRetryDelayMs, retryAfter !== undefined ? retryAfter * 1000 : this.o.retryBaseMs * 2 ** (attempt - 1));
        this.deps.logger.warn('notify: delivery failed, retrying', { subscription: r.id, device: r.device, attempt, error, retryInMs: wait });
        await this.o.sleep(wait);
      }
    }
    this.fail(r, error, appId, attempts, statusCode);
    return { ...base, status: 'failed', statusCode, attempts, error, ms: Date.now() - t0 };
  }

  private fail(r: SubRow, error: string, appId: string | undefined, attempts: number, statusCode: number | null): void {
    this.failures++;
    this.deps.onDeliveryFailed?.();
    this.db.run('UPDATE push_subscriptions SET last_failure_at = ?, failures = failures + 1, last_error = ? WHERE id = ?', [this.cart.clock.now(), error.slice(0, 500), r.id]);
    this.deps.logger.error('notify: delivery failed', { subscription: r.id, device: r.device, attempts, statusCode, error });
    if (appId) this.deps.appLog?.(appId, 'error', `notify: delivery to "${r.device}" failed after ${attempts} attempt(s): ${error}`);
  }

  // ---------------------------------------------------------------- apps

  /**
   * `fazt.notify(...)` from an app's server code: notifies the owner, as the app (its title and icon;
   * a tap opens it).
   * @throws FaztError `PERMISSION_DENIED` unless the app requests `notify` and the owner granted it;
   *   the errors of {@link send}.
   */
  async sendFromApp(appId: string, requested: readonly string[], input: unknown): Promise<DeliveryReport[]> {
    const app = this.deps.apps.resolve(appId);
    if (!app) throw new FaztError('APP_NOT_FOUND', `notify: no app with id "${appId}".`);
    if (!requested.includes('notify') || !this.deps.permissions.granted(appId).includes('notify')) {
      throw new FaztError(
        'PERMISSION_DENIED',
        `fazt.notify: the app "${app.name}" may not send notifications. Add "notify" to "permissions" in its app.json and have the owner grant it (fazt app grant ${app.name} notify, or the dashboard).`,
      );
    }
    const f = checkMessageFields(input);
    return this.send({ to: 'owner', ...f, appId });
  }

  /**
   * Runs an app's `notify` rules for one of its events (the event bus calls this after each emit).
   * Never throws: problems are logged (in the app's log too).
   */
  onEvent(e: EventRecord): void {
    let rules: unknown;
    let permissions: readonly string[] = [];
    try {
      const app = this.deps.apps.resolve(e.appId);
      if (!app || app.currentVersion === null) return;
      const m = this.deps.apps.manifest(app.id, app.currentVersion) as ({ notify?: unknown; permissions?: string[] } | undefined);
      rules = m?.notify;
      permissions = m?.permissions ?? [];
      const matching = rulesFor(rules, e.type);
      if (!matching.length) return;
      if (!permissions.includes('notify') || !this.deps.permissions.granted(app.id).includes('notify')) {
        this.deps.appLog?.(app.id, 'warn', `notify rule for "${e.type}" skipped: the owner has not granted the "notify" permission (fazt app grant ${app.name} notify).`);
        return;
      }
      const ctx = { type: e.type, app: app.title || app.name, payload: e.payload };
      for (const r of matching) {
        const msg = {
          to: 'owner' as const,
          appId: app.id,
          title: renderTemplate(r.title, ctx, MAX_TITLE) || r.title.slice(0, MAX_TITLE),
          body: r.body === undefined ? undefined : renderTemplate(r.body, ctx, MAX_BODY),
          url: r.url === undefined ? undefined : renderTemplate(r.url, ctx, MAX_URL),
          tag: r.tag === undefined ? undefined : renderTemplate(r.tag, ctx, MAX_TAG),
        };
        void this.send(msg).catch((err: unknown) => {
          const message = isFaztError(err) ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
          this.deps.logger.error('notify: rule failed', { appId: app.id, type: e.type, error: message });
          this.deps.appLog?.(app.id, 'error', `notify rule for "${e.type}" failed: ${message}`);
        });
      }
    } catch (err) {
      this.deps.logger.error('notify: rules failed', { appId: e.appId, type: e.type, error: String((err as Error)?.message ?? err) });
    }
  }
}
