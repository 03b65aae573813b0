//! The module's epoch engine, compiled for the host from the very file the
//! kernel module builds (`epoch.rs` at the top of the repository).

#[path = "../../../epoch.rs"]
pub mod epoch;
