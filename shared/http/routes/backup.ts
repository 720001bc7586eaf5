import { FaztError } from '../../errors.js';
import type { ApiRouter } from '../router.js';

/** A backup of the whole cartridge, as one SQLite file, when the host can make one. */

/** Adds `/api/backup`. */
export function backupRoutes(api: ApiRouter): void {
  api.route('GET', '/api/backup', 'admin', async (c) => {
    const backup = c.kernel.ports.backup;
    if (!backup) throw new FaztError('NOT_FOUND', 'This node cannot make backups.');
    const { stream, size } = await backup();
    const stamp = new Date(c.kernel.cartridge.clock.now()).toISOString().replace(/[:.]/g, '-');
    return new Response(stream, {
      headers: {
        'content-type': 'application/vnd.sqlite3',
        'content-length': String(size),
        'content-disposition': `attachment; filename="fazt-${stamp}.db"`,
        'cache-control': 'no-store',
      },
    });
  });
}
