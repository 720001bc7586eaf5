/**
 * App frames: apps shown in the dashboard inside `<iframe sandbox>` without `allow-same-origin`,
 * with their documents, files and API calls carried by a bridge bound to that app alone.
 *
 *   import { sourceFromBase } from './frame/index.js';
 *   frame.source = sourceFromBase('/~device/a/notes/', { title: 'Notes' });
 *
 * See docs/app-frames.md.
 */
export { FaztAppFrame, FRAME_SANDBOX, type AppNavigateDetail } from './app-frame.js';
export { sourceFromBase, errorJson, type AppSource, type SourceFromBaseInit } from './source.js';
export { virtualOrigin, normalizeAppPath, appPathOf, FramePathError, type AppLocation } from './paths.js';
