"""batchrecs_local: the embedded local stack, the Personalize emulator and the batchrecs CLI (dev-only)."""
