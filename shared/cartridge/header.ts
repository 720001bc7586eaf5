import { FaztError } from '../errors.js';

/**
 * SQLite file header checks, done before a driver touches the file so that a file that is not a
 * cartridge, or a truncated one, gets a clear error and is never overwritten.
 * Layout: https://www.sqlite.org/fileformat2.html#the_database_header
 */

/** `PRAGMA application_id` of a Fazt cartridge: ASCII "FAZT". */
export const FAZT_APPLICATION_ID = 0x46415a54;

const MAGIC = 'SQLite format 3\u0000';

/** What the header says about a file. */
export interface SqliteHeaderInfo {
  /** Page size, bytes. */
  pageSize: number;
  /** Database size in pages (from the header; 0 when the header field is not valid). */
  pageCount: number;
  /** `PRAGMA application_id` value stored in the header. */
  applicationId: number;
}

/**
 * Checks the first 100 bytes of a file and its total size.
 * An empty file (size 0) is a new cartridge: returns `undefined`.
 * @param head at least the first 100 bytes (fewer only when the file is shorter).
 * @param fileSize total file size, bytes.
 * @param label how to name the file in messages (its path).
 * @throws FaztError `NOT_A_CARTRIDGE` when the file is not SQLite, or is SQLite with another application id;
 *   `CARTRIDGE_CORRUPT` when it is shorter than its header says (truncated).
 */
export function checkSqliteHeader(head: Uint8Array, fileSize: number, label: string): SqliteHeaderInfo | undefined {
  if (fileSize === 0) return undefined;
  const magic = new TextDecoder('latin1').decode(head.subarray(0, 16));
  if (head.length < 100 || magic !== MAGIC) {
    throw new FaztError(
      'NOT_A_CARTRIDGE',
      `${label} is not a Fazt cartridge (not an SQLite database). It was left untouched; pass another --db path.`,
    );
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const rawPageSize = view.getUint16(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const changeCounter = view.getUint32(24);
  const validFor = view.getUint32(92);
  const pageCount = validFor === changeCounter ? view.getUint32(28) : 0;
  const applicationId = view.getUint32(68);
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) {
    throw new FaztError('CARTRIDGE_CORRUPT', `${label} has a damaged SQLite header (page size ${rawPageSize}). It was left untouched.`);
  }
  if (pageCount > 0 && fileSize < pageCount * pageSize) {
    throw new FaztError(
      'CARTRIDGE_CORRUPT',
      `${label} is truncated: ${fileSize} bytes on disk, the header says ${pageCount * pageSize}. It was left untouched; restore it from a backup (\`fazt backup\`).`,
    );
  }
  if (applicationId !== 0 && applicationId !== FAZT_APPLICATION_ID) {
    throw new FaztError(
      'NOT_A_CARTRIDGE',
      `${label} is an SQLite database of another application (application_id ${applicationId}), not a Fazt cartridge. It was left untouched.`,
    );
  }
  return { pageSize, pageCount, applicationId };
}
