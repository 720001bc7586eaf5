/**
 * The dashboard's entry (web/index.html): installs this device's node (the service worker), keeps
 * the browser's install offer, and starts the shell. Everything else loads when its screen opens.
 */
import { registerDeviceWorker } from './lib/device-link.js';
import { watchInstallOffer } from './lib/install.js';
import { shareDeviceWasm } from './lib/wasm-share.js';
import './ui/fazt-shell.js';

/** After the first screen, once the worker controls the page: its WebAssembly stays compiled across worker restarts (wasm-share.ts). */
async function shareWhenControlled(): Promise<void> {
  const sw = navigator.serviceWorker;
  if (!sw.controller) await new Promise((r) => sw.addEventListener('controllerchange', r, { once: true }));
  const idle = (globalThis as { requestIdleCallback?: (cb: () => void, o?: { timeout: number }) => void }).requestIdleCallback;
  await new Promise<void>((r) => (idle ? idle(() => r(), { timeout: 2000 }) : setTimeout(r, 500)));
  await shareDeviceWasm();
}

watchInstallOffer();
registerDeviceWorker().then(
  (registration) => {
    if (!registration) return;
    shareWhenControlled().catch((e) => console.info('device node: WebAssembly not kept compiled:', e));
    // the device node's links to its paired peers (WebRTC lives in the page; PeerJS loads only when there are peers)
    import('./lib/mesh-relay.js').then(
      (m) => m.startMeshRelay(),
      (e) => console.warn('mesh relay not loaded:', e),
    );
  },
  (e) => console.warn('device node: service worker not registered:', e),
);
