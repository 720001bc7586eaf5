/**
 * Typed errors of the kernel. Every failure a person can meet carries a stable machine `code`,
 * the HTTP status it maps to, and a message that says what to do.
 *
 * JSON shape on the wire (all hosts): `{ "error": { "code": string, "message": string } }`.
 */

/** Stable error codes. Scripts may rely on them; add, never rename. */
export type FaztErrorCode =
  | 'BAD_REQUEST'
  | 'INVALID_MANIFEST'
  | 'MISSING_MANIFEST'
  | 'INVALID_NAME'
  | 'RESERVED_NAME'
  | 'NAME_TAKEN'
  | 'UNSAFE_PATH'
  | 'PAYLOAD_TOO_LARGE'
  | 'TOO_MANY_FILES'
  | 'BAD_ARCHIVE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'APP_NOT_FOUND'
  | 'VERSION_NOT_FOUND'
  | 'CONFLICT'
  | 'RANGE_NOT_SATISFIABLE'
  | 'RATE_LIMITED'
  | 'ALREADY_SET_UP'
  | 'NOT_SET_UP'
  | 'NOT_A_CARTRIDGE'
  | 'CARTRIDGE_CORRUPT'
  | 'CARTRIDGE_TOO_NEW'
  | 'METHOD_NOT_ALLOWED'
  | 'INVALID_CODE'
  | 'INVALID_ARGUMENT'
  | 'PERMISSION_DENIED'
  | 'LIMIT_EXCEEDED'
  | 'APP_ERROR'
  | 'APP_TIMEOUT'
  | 'APP_OUT_OF_MEMORY'
  | 'APP_BUSY'
  | 'APP_OVER_BUDGET'
  | 'NO_HANDLER'
  | 'UPSTREAM_FAILED'
  // the browser node (sw/): its storage and its worker's life
  /** The device has no storage left for the change (OPFS quota); nothing was saved. */
  | 'QUOTA_EXCEEDED'
  /** A newer worker version took the cartridge over while the request ran; nothing was saved. */
  | 'SUPERSEDED'
  /** Guided mode is locked: admin changes need the owner PIN. */
  | 'LOCKED'
  /** The node is still starting. */
  | 'NOT_READY'
  /** The node could not start (a reason other than the cartridge's state). */
  | 'START_FAILED'
  /** A change could not be saved for another reason than quota; nothing was saved. */
  | 'PERSIST_FAILED'
  // the mesh: pairing and peers
  /** An invitation that cannot be read (damaged, not an invitation, a mistyped word). */
  | 'INVALID_INVITATION'
  /** An invitation past its expiry. */
  | 'INVITATION_EXPIRED'
  /** An invitation already used (they are single-use) or withdrawn. */
  | 'INVITATION_USED'
  /** The other side could not prove it holds the invitation, or its key does not match. */
  | 'PAIRING_FAILED'
  /** The named node is not a paired peer (never paired, or unpaired). */
  | 'NOT_PAIRED'
  /** A peer could not be reached at any address tried. */
  | 'PEER_UNREACHABLE'
  // AI (shared/ai/, docs/ai.md)
  /** No model can answer: no provider configured, the provider is down or unreachable, or it did not answer in time. */
  | 'AI_UNAVAILABLE'
  /** The provider refused the node's key (HTTP 401/403): the owner sets a new key. */
  | 'AI_AUTH'
  /** The provider said too many requests (HTTP 429); `retryAfterSeconds` when it said how long to wait. */
  | 'AI_RATE_LIMITED'
  /** The model (or the provider named in `provider/model`) does not exist. */
  | 'AI_MODEL_NOT_FOUND'
  /** The app used its AI budget (tokens or calls this month) the owner set. */
  | 'AI_BUDGET_EXCEEDED'
  /** The provider's stream stopped before the answer was complete. */
  | 'AI_STREAM_INTERRUPTED'
  /** The model called a tool with arguments that fail the tool's JSON Schema. */
  | 'AI_TOOL_INPUT_INVALID'
  /** The model's answer does not match the JSON Schema asked for (`generateObject`). */
  | 'AI_OUTPUT_INVALID'
  // safeguards (shared/guards/, docs/safeguards.md)
  /** The disk holding the cartridge is fuller than the owner's limit (default 80%): writes that grow it are refused; reads and deletes work. */
  | 'DISK_FULL'
  /** The app used the outbound `fazt.net.fetch` bytes the owner allows it per UTC month. */
  | 'EGRESS_QUOTA_EXCEEDED'
  | 'INTERNAL';

const STATUS: Record<FaztErrorCode, number> = {
  BAD_REQUEST: 400,
  INVALID_MANIFEST: 422,
  MISSING_MANIFEST: 422,
  INVALID_NAME: 422,
  RESERVED_NAME: 422,
  NAME_TAKEN: 409,
  UNSAFE_PATH: 400,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_FILES: 413,
  BAD_ARCHIVE: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  APP_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  CONFLICT: 409,
  RANGE_NOT_SATISFIABLE: 416,
  RATE_LIMITED: 429,
  ALREADY_SET_UP: 409,
  NOT_SET_UP: 409,
  NOT_A_CARTRIDGE: 500,
  CARTRIDGE_CORRUPT: 500,
  INVALID_CODE: 422,
  INVALID_ARGUMENT: 400,
  PERMISSION_DENIED: 403,
  LIMIT_EXCEEDED: 413,
  APP_ERROR: 500,
  APP_TIMEOUT: 504,
  APP_OUT_OF_MEMORY: 507,
  APP_BUSY: 503,
  APP_OVER_BUDGET: 429,
  NO_HANDLER: 404,
  UPSTREAM_FAILED: 502,
  CARTRIDGE_TOO_NEW: 500,
  METHOD_NOT_ALLOWED: 405,
  QUOTA_EXCEEDED: 507,
  SUPERSEDED: 503,
  LOCKED: 423,
  NOT_READY: 503,
  START_FAILED: 503,
  PERSIST_FAILED: 500,
  INVALID_INVITATION: 400,
  INVITATION_EXPIRED: 410,
  INVITATION_USED: 409,
  PAIRING_FAILED: 403,
  NOT_PAIRED: 403,
  PEER_UNREACHABLE: 502,
  AI_UNAVAILABLE: 503,
  AI_AUTH: 502,
  AI_RATE_LIMITED: 429,
  AI_MODEL_NOT_FOUND: 404,
  AI_BUDGET_EXCEEDED: 429,
  AI_STREAM_INTERRUPTED: 502,
  AI_TOOL_INPUT_INVALID: 422,
  AI_OUTPUT_INVALID: 502,
  DISK_FULL: 507,
  EGRESS_QUOTA_EXCEEDED: 429,
  INTERNAL: 500,
};

/** The HTTP status of an error code (RFC 9110; 423 and 507 from RFC 4918). */
export function statusOf(code: FaztErrorCode): number {
  return STATUS[code];
}

/**
 * The one error class of the kernel.
 * @example throw new FaztError('APP_NOT_FOUND', 'No app named "blog". Run `fazt app list` to see the apps.')
 */
export class FaztError extends Error {
  /** Stable machine-readable code. */
  readonly code: FaztErrorCode;
  /** HTTP status this error maps to. */
  readonly status: number;
  /** Extra JSON-safe details (e.g. `{ retryAfterSeconds: 30 }`). */
  readonly details?: Record<string, unknown>;

  constructor(code: FaztErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'FaztError';
    this.code = code;
    this.status = STATUS[code];
    this.details = details;
  }

  /** The wire shape `{ error: { code, message } }` (see {@link errorBody}). */
  toJSON(): ErrorBody {
    return errorBody(this.code, this.message, this.details);
  }
}

/** The JSON body of every error answer of Fazt (admin API, app hosts, both nodes): `{ error: { code, message, …details } }`. */
export interface ErrorBody {
  error: { code: string; message: string } & Record<string, unknown>;
}

/**
 * Builds the error body `{ error: { code, message, …extra } }`. The one place that shape is made:
 * `FaztError.toJSON`, the kernel's HTTP answers and the hosts' own error answers all call it.
 * @param code a stable code (a {@link FaztErrorCode} for the kernel's errors).
 * @param message what happened and what to do, for a person.
 * @param extra further fields (e.g. `requestId`, `limitBytes`); they never override `code` or `message`.
 */
export function errorBody(code: string, message: string, extra?: Record<string, unknown>): ErrorBody {
  return { error: { ...(extra ?? {}), code, message } };
}

/** True when `e` is a {@link FaztError} (also across module copies). */
export function isFaztError(e: unknown): e is FaztError {
  return e instanceof FaztError || (typeof e === 'object' && e !== null && (e as { name?: string }).name === 'FaztError');
}
