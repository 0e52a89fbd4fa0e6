"""The browser side of ocrgw: a static playground page at `/` that drives the native `/v1` API. No
build step and no third-party assets, so it works on an offline machine exactly as shipped."""
