/**
 * The service worker of the Fazt PWA (built by vite-plugin-pwa in injectManifest mode as one classic
 * script, whose compiled code Chromium caches, unlike a module worker's; register it with
 * `{ scope: '/' }`, see web/lib/device-link.ts).
 *
 * One origin, two nodes (docs/browser-node.md):
 * - `/~device/...` is this device's own node: the kernel running here ({@link DeviceNode}); the prefix
 *   is stripped (`/~device/api/apps` → the kernel's `/api/apps`, `/~device/a/blog/` → `/a/blog/`).
 * - `/api/...` and `/a/...` go to the network: the hub (the headless node that served this page).
 *   Offline they fail, and the dashboard shows the hub as unreachable.
 * - Build files (hashed assets, wasm, icons, the manifest, the standard library) are served from the
 *   precache; any other navigation gets the dashboard shell (`index.html`) from the precache, so the
 *   app starts offline.
 *
 * Requests from the dashboard's own window act as the device's owner (the kernel's `RequestContext.principal`);
 * other clients (app pages under `/a/` or `/~device/`) get the kernel's normal HTTP authentication.
 */
/// <reference lib="webworker" />
import { cleanupOutdatedCaches, getCacheKeyForURL, matchPrecache, precache } from 'workbox-precaching';
import type { PrecacheEntry } from 'workbox-precaching';
import type { Principal } from '../shared/index.js';
import { DeviceNode, DEVICE_OWNER, errorJson } from './device-node.js';
import { deviceApi, exposeOn } from './device-endpoint.js';
import { assetUrls } from './precached.js';
import type { DeviceConnectMessage } from './device-api.js';
import { MeshRelay } from './mesh-relay.js';
import { installPushHandlers, localNotifier } from './push.js';
import type { MeshRelayBeat, MeshRelayConnect, MeshRelayStarted, MeshRelayUnknown } from './mesh-relay-api.js';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<PrecacheEntry | string> };

/** Path prefix of the device node. */
const DEVICE_PREFIX = '/~device';
/** ms from the worker's start to the end of evaluating its modules (Server-Timing `script`). */
const SCRIPT_EVALUATED = performance.now();

const manifest = self.__WB_MANIFEST;
precache(manifest);
cleanupOutdatedCaches();

const node = new DeviceNode({
  version: __FAZT_VERSION__,
  scriptMs: SCRIPT_EVALUATED,
  // direct pairing (codes that carry the WebRTC offer/answer): the page's RTCPeerConnection, through the relay
  onKernel: (kernel) => kernel.mesh.setDirectConnector(relay.direct),
  // fazt.notify on this device's node shows here directly (docs/notify.md)
  notifier: localNotifier(self),
});
// Web Push from a hub, and taps on notifications (sw/push.ts)
installPushHandlers(self);
const api = deviceApi(node);
const relayLogger = {
  info: (msg: string, fields?: Record<string, unknown>) => console.info(JSON.stringify({ level: 'info', msg, ...fields })),
  warn: (msg: string, fields?: Record<string, unknown>) => console.warn(JSON.stringify({ level: 'warn', msg, ...fields })),
  error: (msg: string, fields?: Record<string, unknown>) => console.error(JSON.stringify({ level: 'error', msg, ...fields })),
};
// the mesh links of the device node, carried by the page's data channels (sw/mesh-relay.ts)
const relay = new MeshRelay(
  {
    ready: async () => {
      await node.ready();
      return node.current;
    },
    current: () => node.current,
  },
  relayLogger,
);

/** Tells the dashboard windows that this worker instance started (their relay session died with the previous one). */
async function announceStart(): Promise<void> {
  const started: MeshRelayStarted = { type: 'fazt:mesh-started', instance: relay.instance };
  for (const c of await self.clients.matchAll({ type: 'window' })) c.postMessage(started);
}

// A restarted (already active) worker opens the cartridge at once; a new version waits until it is
// activated, so it never takes the cartridge from the version still serving.
DeviceNode.prefetch(assetUrls(manifest));
if (self.serviceWorker?.state === 'activated') {
  void node.ready();
  void announceStart().catch(() => {});
}

self.addEventListener('install', () => {
  void self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(Promise.all([self.clients.claim(), node.ready()]));
});

self.addEventListener('message', (event) => {
  const data = event.data as Partial<DeviceConnectMessage> | Partial<MeshRelayConnect> | Partial<MeshRelayBeat> | undefined;
  if (data?.type === 'fazt:connect' && data.port) exposeOn(data.port, api);
  else if ((data as { type?: string } | undefined)?.type === 'fazt:skip-waiting' && self.serviceWorker?.state === 'installed') {
    console.info('service worker: asked again to take over');
    void self.skipWaiting();
  } else if (data?.type === 'fazt:mesh' && data.port && typeof data.session === 'string') relay.connect(data.port, data.session);
  else if (data?.type === 'fazt:mesh-beat' && typeof data.session === 'string' && !relay.beat(data.session)) {
    const unknown: MeshRelayUnknown = { type: 'fazt:mesh-unknown', session: data.session };
    (event.source as Client | null)?.postMessage(unknown);
  }
  // 'fazt:keepalive' (and every beat): the message event itself keeps the worker alive a while longer
});

/** True for paths the hub (the network) answers. */
function isHubPath(p: string): boolean {
  return p === '/api' || p.startsWith('/api/') || p === '/a' || p.startsWith('/a/');
}

/** The owner principal when the request comes from the dashboard's own window, else `undefined`. */
async function principalFor(event: FetchEvent): Promise<Principal | undefined> {
  if (!event.clientId) return undefined;
  const client = await self.clients.get(event.clientId);
  if (!client || client.type !== 'window') return undefined;
  const url = new URL(client.url);
  if (url.origin !== self.location.origin) return undefined;
  const p = url.pathname;
  if (p === '/a' || p.startsWith('/a/') || p === DEVICE_PREFIX || p.startsWith(DEVICE_PREFIX + '/')) return undefined;
  return DEVICE_OWNER;
}

/** Prefixes a redirect's same-origin `Location` with `/~device`, so it stays on the device node. */
function keepOnDevice(res: Response): Response {
  const loc = res.headers.get('location');
  if (!loc || !loc.startsWith('/') || loc.startsWith('//')) return res;
  const headers = new Headers(res.headers);
  headers.set('location', DEVICE_PREFIX + loc);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

async function handleDevice(event: FetchEvent, url: URL): Promise<Response> {
  const inner = new URL(url);
  inner.pathname = url.pathname.slice(DEVICE_PREFIX.length) || '/';
  const p = inner.pathname;
  if (!(p === '/api' || p.startsWith('/api/') || p === '/a' || p.startsWith('/a/'))) {
    return errorJson(404, 'NOT_FOUND', `Nothing at ${url.pathname}: the device node serves /~device/api/… and /~device/a/<app>/….`);
  }
  try {
    const principal = await principalFor(event);
    const res = await node.fetch(event.request, inner, principal);
    return keepOnDevice(res);
  } catch (e) {
    // DeviceNode.fetch answers errors itself; this is a bug or an aborted request body
    console.error(JSON.stringify({ level: 'error', msg: 'device request failed', url: url.pathname, error: String((e as Error)?.stack ?? e) }));
    return errorJson(500, 'INTERNAL', 'The device node could not answer this request; the error was logged in the service worker console.');
  }
}

/** The dashboard shell from the precache (the network's when it is not precached, e.g. a dev build). */
async function shell(request: Request): Promise<Response> {
  return (await matchPrecache('/index.html')) ?? fetch(request);
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const p = url.pathname;
  if (p === DEVICE_PREFIX || p.startsWith(DEVICE_PREFIX + '/')) {
    event.respondWith(handleDevice(event, url));
    event.waitUntil(node.idle());
    return;
  }
  if (isHubPath(p) || request.method !== 'GET') return;
  if (getCacheKeyForURL(url.href)) {
    event.respondWith(matchPrecache(url.href).then((hit) => hit ?? fetch(request)));
    return;
  }
  if (request.mode === 'navigate') event.respondWith(shell(request));
});
