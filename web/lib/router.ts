/**
 * Hash routes of the dashboard (`#/apps`, `#/app/blog/logs`…): they work however the page was
 * served (by the hub, from the service worker's cache, offline) and need nothing from the server.
 */

/** A parsed route: the screen and its parameters. */
export type Route =
  | { screen: 'apps' }
  | { screen: 'deploy' }
  | { screen: 'settings' }
  | { screen: 'devices' }
  | { screen: 'health' }
  | { screen: 'app'; name: string; tab: 'versions' | 'logs' | 'storage' }
  | { screen: 'open'; name: string; path?: string }
  | { screen: 'guided' }
  | { screen: 'guided-open'; name: string; path?: string }
  | { screen: 'guided-help'; wizard: string };

/**
 * Parses `location.hash` (without or with the leading `#`). Unknown hashes are the app list.
 * An open app's page is the segment after its name (`#/open/notes/about%2F%3Fq%3Dx`: the app path
 * `about/?q=x`, encoded as one segment), so the browser's Back and Forward move between its pages.
 */
export function parseRoute(hash: string): Route {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  const [a, b, c] = parts;
  switch (a) {
    case 'deploy':
      return { screen: 'deploy' };
    case 'settings':
      return { screen: 'settings' };
    case 'devices':
      return { screen: 'devices' };
    case 'health':
      return { screen: 'health' };
    case 'app':
      if (b) return { screen: 'app', name: b, tab: c === 'logs' || c === 'storage' ? c : 'versions' };
      break;
    case 'open':
      if (b) return c ? { screen: 'open', name: b, path: c } : { screen: 'open', name: b };
      break;
    case 'guided':
      if (b === 'open' && c) return parts[3] ? { screen: 'guided-open', name: c, path: parts[3] } : { screen: 'guided-open', name: c };
      if (b === 'help' && c) return { screen: 'guided-help', wizard: c };
      return { screen: 'guided' };
  }
  return { screen: 'apps' };
}

/** The hash of a route. */
export function href(r: Route): string {
  const e = encodeURIComponent;
  switch (r.screen) {
    case 'apps':
      return '#/apps';
    case 'deploy':
      return '#/deploy';
    case 'settings':
      return '#/settings';
    case 'devices':
      return '#/devices';
    case 'health':
      return '#/health';
    case 'app':
      return `#/app/${e(r.name)}${r.tab === 'versions' ? '' : `/${r.tab}`}`;
    case 'open':
      return `#/open/${e(r.name)}${r.path ? `/${e(r.path)}` : ''}`;
    case 'guided':
      return '#/guided';
    case 'guided-open':
      return `#/guided/open/${e(r.name)}${r.path ? `/${e(r.path)}` : ''}`;
    case 'guided-help':
      return `#/guided/help/${e(r.wizard)}`;
  }
}

/** Goes to a route (adds a history entry, so the browser's Back button works). */
export function go(r: Route): void {
  location.hash = href(r);
}
