/**
 * The dashboard's entry (web/index.html): installs this device's node (the service worker), keeps
 * the browser's install offer, and starts the shell. Everything else loads when its screen opens.
 */
import { registerDeviceWorker } from './lib/device-link.js';
import { watchInstallOffer } from './lib/install.js';
import './ui/fazt-shell.js';

watchInstallOffer();
registerDeviceWorker().catch((e) => console.warn('device node: service worker not registered:', e));
