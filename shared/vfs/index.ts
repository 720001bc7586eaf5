export { BlobStore, BlobWriter, CHUNK_SIZE, type BlobInfo } from './blobs.js';
export { normalizeUploadPath, requestPathToVfs, MAX_PATH_LENGTH } from './paths.js';
