// Preloaded (node --import) into the Fazt node only when BENCH_PROF_DIR is set, together with
// --cpu-prof. V8 writes the profile only on a normal process exit; a SIGTERM with no handler
// kills the process before that. This turns SIGTERM/SIGINT into a normal exit, after giving the
// node's own shutdown handler (if any) a moment to run first.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
