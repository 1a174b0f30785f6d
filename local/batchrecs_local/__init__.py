"""batchrecs_local: the embedded local stack and the Personalize emulator (dev-only; the batchrecs command is
cli/batchrecs_cli)."""
