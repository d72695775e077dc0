//! Shared helpers for the workspace-level end-to-end tests in `all/`.
