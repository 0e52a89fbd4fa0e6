"""ocrgw's own API (`/v1`): vendor-neutral shapes and a plain error envelope. So far: languages."""
