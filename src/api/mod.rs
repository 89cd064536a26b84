//! The operations: one file per operation, each with its typed request and response.

pub mod list_plugin_status;
pub mod next_token;
