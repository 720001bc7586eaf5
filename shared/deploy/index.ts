import { FaztError } from '../errors.js';
import type { AppRegistry, AppRecord } from '../apps/index.js';
import type { UnreviewedDeploy } from '../apps/registry.js';
import type { AppManifest } from '../apps/manifest.js';
import { assertAppName } from '../apps/names.js';
import type { BlobInfo, BlobStore } from '../vfs/blobs.js';
import type { ContentEncoding, KernelPorts } from '../ports.js';
import type { SqlDatabase } from '../sql/index.js';
import { contentTypeFor, isCompressible } from '../lib/mime.js';
import { DEFAULT_DEPLOY_LIMITS, type DeployLimits } from './limits.js';
import { stageMultipart, stageZip, stripCommonFolder, type UploadProgress } from './upload.js';

export { DEFAULT_DEPLOY_LIMITS, formatBytes, type DeployLimits } from './limits.js';
export { stageZip, stageMultipart, stripCommonFolder, limitedChunks, type UploadProgress } from './upload.js';

/** What a deploy reports back. */
export interface DeployResult {
  /** The app's stable UUID. */
  id: string;
  /** The app's name. */
  name: string;
  /** The new version number (live unless `live` is false). */
  version: number;
  /**
   * False when the version waits for the owner's approval (see {@link DeployInput.review}): stored,
   * not live, runs no code.
   */
  live: boolean;
  /** True when this deploy created the app. */
  created: boolean;
  /** Number of files in the version. */
  files: number;
  /** Sum of file sizes, bytes. */
  bytes: number;
  /** Non-fatal remarks (unknown manifest keys …). */
  warnings: string[];
  /** The app after the deploy. */
  app: AppRecord;
  /** The validated manifest. */
  manifest: AppManifest;
}

/** Input of {@link DeployService.deploy}. */
export interface DeployInput {
  /** The request body: a zip archive or a multipart file set. */
  body: ReadableStream<Uint8Array>;
  /** The body's `Content-Type`: `application/zip` (or `application/octet-stream`) or `multipart/form-data; boundary=…`. */
  contentType: string;
  /** Declared body length, bytes, when known: refused up front if over the limit. */
  contentLength?: number;
  /**
   * App name; defaults to `name` in `app.json`, else to the upload's single top folder (a zipped
   * `my-site/` folder deploys as `my-site` when that is a valid name). `app.json` is optional.
   */
  name?: string;
  /** Called as the upload is received. */
  onProgress?: (p: UploadProgress) => void;
  /**
   * Who may land the version and how, decided against the target app (`undefined` when the name is
   * free) and name: `undefined` for an admin's deploy (live at once); for anyone else's, who deployed
   * it and whether it must wait for the owner's approval; or throw (e.g. FaztError `FORBIDDEN`) to
   * refuse. Called once as soon as the name is known (before the checks, so a refused deploy costs
   * little) and again inside the committing transaction, which decides.
   */
  review?: (app: AppRecord | undefined, name: string) => UnreviewedDeploy | undefined;
}

/** A pre-commit check of an upload, see {@link DeployService.checks}. */
export type DeployCheck = (upload: { files: ReadonlyMap<string, BlobInfo>; manifest: AppManifest; readText: (path: string) => string | undefined }) => void | Promise<void>;

/** Text files up to this size are precompressed at deploy, bytes. */
const MAX_PRECOMPRESS_BYTES = 16 * 1024 * 1024;
/** Files smaller than this are not worth compressing, bytes. */
const MIN_PRECOMPRESS_BYTES = 256;

/**
 * Deploys uploads as new immutable app versions.
 *
 * Order of work: stream the upload into content-addressed blobs (never live, harmless if the process
 * dies: garbage-collected later) → validate `app.json` and the name → precompress text files →
 * one transaction creates the version and moves the app's pointer. A crash at any point leaves the
 * old version live, whole.
 */
export class DeployService {
  /**
   * Checks run on every upload after `app.json` is validated and before anything is committed (the
   * runtime's syntax check, cron and schema checks). A check throws FaztError to refuse the deploy;
   * the old version stays live.
   */
  readonly checks: DeployCheck[] = [];

  constructor(
    private readonly db: SqlDatabase,
    private readonly blobs: BlobStore,
    private readonly apps: AppRegistry,
    private readonly ports: Pick<KernelPorts, 'compress' | 'sha256' | 'logger'>,
    readonly limits: DeployLimits = DEFAULT_DEPLOY_LIMITS,
  ) {}

  /**
   * Receives and commits one deploy.
   * A refused, failed or aborted deploy removes the blobs it staged before it throws and gives the
   * pages back to the file system (see `BlobStore.tidy`).
   * @throws FaztError `PAYLOAD_TOO_LARGE`, `TOO_MANY_FILES`, `UNSAFE_PATH`, `BAD_ARCHIVE`, `BAD_REQUEST`,
   *   `UNSUPPORTED_MEDIA_TYPE`, `MISSING_MANIFEST` (no app.json and no name), `INVALID_MANIFEST`,
   *   `INVALID_NAME`, `RESERVED_NAME`.
   */
  async deploy(input: DeployInput): Promise<DeployResult> {
    if (input.contentLength !== undefined && input.contentLength > this.limits.maxUploadBytes) {
      throw new FaztError('PAYLOAD_TOO_LARGE', `The upload (${input.contentLength} bytes) is larger than the limit (${this.limits.maxUploadBytes} bytes). Nothing was deployed.`);
    }
    if (input.name !== undefined) assertAppName(input.name);
    const end = this.blobs.beginWrite();
    let staged = false;
    try {
      const type = input.contentType.toLowerCase();
      let files: Map<string, BlobInfo>;
      if (type.startsWith('multipart/form-data')) {
        staged = true;
        files = await stageMultipart(input.body, input.contentType, this.blobs, this.limits, input.onProgress);
      } else if (type.startsWith('application/zip') || type.startsWith('application/x-zip') || type.startsWith('application/octet-stream')) {
        staged = true;
        files = await stageZip(input.body, this.blobs, this.limits, input.onProgress);
      } else {
        throw new FaztError('UNSUPPORTED_MEDIA_TYPE', `Deploy takes application/zip or multipart/form-data, not "${input.contentType}".`);
      }
      const stripped = stripCommonFolder(files);
      files = stripped.files;
      const manifestBlob = files.get('app.json');
      let manifest: AppManifest;
      let warnings: string[] = [];
      // zod is loaded on the first deploy only: a node that just serves never pays for it.
      const { parseManifest } = await import('../apps/manifest.js');
      if (manifestBlob) {
        if (manifestBlob.size > 256 * 1024) throw new FaztError('INVALID_MANIFEST', 'app.json is larger than 256 KiB. Nothing was deployed.');
        ({ manifest, warnings } = parseManifest(this.blobs.readAll(manifestBlob)));
      } else {
        // app.json is optional: a plain built folder (a static site) deploys under the name given
        manifest = parseManifest(new TextEncoder().encode('{}')).manifest;
      }
      const name = input.name ?? manifest.name ?? stripped.folder;
      if (name === stripped.folder && name !== undefined) {
        try {
          assertAppName(name);
        } catch (e) {
          throw new FaztError((e as FaztError).code, `The app takes its name from its folder "${name}", and that is not an app name: ${(e as FaztError).message} Pass a name (\`?name=blog\`, \`--name blog\`). Nothing was deployed.`);
        }
      }
      if (!name) {
        throw new FaztError(
          manifestBlob ? 'INVALID_MANIFEST' : 'MISSING_MANIFEST',
          manifestBlob
            ? 'The app has no name: put "name" in app.json or pass --name. Nothing was deployed.'
            : 'The upload has no app.json at its top level and no name was given: pass one (`?name=blog`, `fazt app deploy DIR --name blog`) or add an app.json like {"name": "blog", "title": "My blog"}. Nothing was deployed.',
        );
      }
      assertAppName(name);
      input.review?.(this.apps.resolve(name), name);
      const readText = (path: string) => {
        const b = files.get(path);
        return b ? new TextDecoder().decode(this.blobs.readAll(b)) : undefined;
      };
      for (const check of this.checks) await check({ files, manifest, readText });
      await this.precompress(files);
      const treeHash = this.treeHash(files);
      const { app, version, created, live } = this.apps.commitVersion(name, manifest, files, treeHash, input.review);
      staged = false; // committed: its blobs are referenced now
      let bytes = 0;
      for (const b of files.values()) bytes += b.size;
      this.ports.logger.info(live ? 'deployed' : 'deployed, waiting for approval', { app: app.name, id: app.id, version, files: files.size, bytes });
      return { id: app.id, name: app.name, version, live, created, files: files.size, bytes, warnings, app, manifest };
    } catch (e) {
      const details = (e as { details?: Record<string, unknown> }).details;
      this.ports.logger.warn('deploy refused', { code: (e as { code?: string }).code ?? 'INTERNAL', name: input.name, ...details });
      throw e;
    } finally {
      end();
      // A failed or aborted deploy removes what it staged now, and the file gives the space back
      // (postponed until the last concurrent deploy ends, whose chunks are not referenced yet).
      if (staged) {
        const tidy = await this.blobs.tidy().catch((e: unknown) => void this.ports.logger.warn('clean-up after a failed deploy failed', { error: String(e) }));
        if (tidy && (tidy.blobs || tidy.chunks || tidy.pages)) this.ports.logger.info('removed what a failed deploy staged', tidy);
      }
    }
  }

  /** SHA-256 over the sorted `path NUL hash LF` lines. */
  private treeHash(files: Map<string, BlobInfo>): string {
    const h = this.ports.sha256();
    const enc = new TextEncoder();
    for (const p of [...files.keys()].sort()) h.update(enc.encode(`${p}\u0000${files.get(p)!.hash}\n`));
    return h.digestHex();
  }

  /** Stores gzip and brotli variants of compressible files not compressed before (by content hash). */
  private async precompress(files: Map<string, BlobInfo>): Promise<void> {
    const todo: BlobInfo[] = [];
    const seen = new Set<string>();
    for (const [path, blob] of files) {
      if (seen.has(blob.hash) || blob.size < MIN_PRECOMPRESS_BYTES || blob.size > MAX_PRECOMPRESS_BYTES) continue;
      if (!isCompressible(contentTypeFor(path))) continue;
      seen.add(blob.hash);
      if (this.db.get('SELECT 1 FROM vfs_encodings WHERE blob_hash = ? LIMIT 1', [blob.hash])) continue;
      todo.push(blob);
    }
    for (const blob of todo) {
      const raw = this.blobs.readAll(blob);
      const encodings: ContentEncoding[] = ['br', 'gzip'];
      const outs = await Promise.all(encodings.map((e) => this.ports.compress(raw, e)));
      encodings.forEach((encoding, i) => {
        const out = outs[i];
        if (!out || out.length >= raw.length * 0.9) return;
        const enc = this.blobs.put(out);
        this.db.run('INSERT OR IGNORE INTO vfs_encodings (blob_hash, encoding, encoded_hash) VALUES (?, ?, ?)', [blob.hash, encoding, enc.hash]);
      });
    }
  }
}
