/** Per-sandbox limits, fixed when it is created. */
export interface SandboxLimits {
  /** Hard cap of the sandbox's WebAssembly memory, bytes (≥ 16 MiB, the module's initial size). */
  memoryBytes: number;
  /** QuickJS allocator limit, bytes: small-object bombs fail here with a clean "out of memory". */
  heapBytes: number;
  /** QuickJS stack, bytes (≤ 384 KiB keeps deep recursion inside the host's stack, docs/architecture.md §8). */
  stackBytes: number;
  /** Largest response body built inside the sandbox, bytes (blob-streamed bodies are not counted). */
  responseBytes: number;
}

/** Defaults of {@link SandboxLimits}. */
export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  memoryBytes: 64 * 1024 * 1024,
  heapBytes: 48 * 1024 * 1024,
  stackBytes: 256 * 1024,
  responseBytes: 10 * 1024 * 1024,
};

