//! # ntp-ffi
//!
//! The C ABI of the NTP library family: the packet codec and trailer of
//! `ntp-wire`, its symmetric-key authentication, the sans-IO engine of
//! `ntp-algo` and its mode 6 control client. The header `include/ntp.h` is generated from this crate by
//! cbindgen; C code needs nothing else.
//!
//! This crate adds no protocol logic: every function checks its pointers,
//! converts between C structs and the Rust types, and calls the Rust API.
//!
//! ## Conventions (after rustls-ffi)
//!
//! * Names are `ntp_<type>_<verb>`; opaque handles ([`ntp_keyring`],
//!   [`ntp_engine`]) come from `_new` and go back through `_free`, which
//!   accepts NULL.
//! * Every function returns an [`ntp_result`]; out-parameters are written
//!   only on [`ntp_result::Ok`], so a failed call leaves the caller's
//!   variables as they were.
//! * Every entry point runs inside a panic boundary: a panic (a bug) comes
//!   back as [`ntp_result::Panic`] instead of unwinding into C, which would
//!   be undefined behaviour.
//! * Every pointer is checked for NULL and every buffer comes with its
//!   length; output buffers belong to the caller.
//! * Addresses cross as [`ntp_sockaddr`] (family 4 or 6, host-order port,
//!   16 address bytes), never as a platform `sockaddr`.
//!
//! `unsafe` is confined to [`ptr`]'s few typed helpers (and the handle
//! frees), each block with its `SAFETY` argument.
#![allow(non_camel_case_types)]
// The entry points are `extern "C" fn` without `unsafe`: C cannot see the
// qualifier, and each function documents what its pointers must satisfy.
// The raw pointers go only through the checked helpers in `ptr`.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

mod addr;
mod auth;
mod config;
mod control;
mod engine;
mod ptr;
mod result;
mod time;
mod version;
mod wire;

pub use addr::ntp_sockaddr;
pub use auth::{
    ntp_auth_kind, ntp_crypto_nak_emit, ntp_key_file_dialect, ntp_key_type, ntp_keyring, ntp_keyring_add_key,
    ntp_keyring_free, ntp_keyring_from_key_file, ntp_keyring_len, ntp_keyring_new, ntp_keyring_remove_key,
    ntp_keyring_set_trusted, ntp_keyring_trust_list, ntp_sign, ntp_verify,
};
pub use config::{
    NTP_DIALECT_CHRONY, NTP_DIALECT_DETECT, NTP_DIALECT_IOS, NTP_DIALECT_NTPCONF, NTP_DIALECT_VRP, ntp_config_check,
    ntp_engine_new_from_config,
};
pub use control::{
    NTP_CONTROL_FILTER_LEN, NTP_CONTROL_OP_READ_STATUS, NTP_CONTROL_OP_READ_VARIABLES, NTP_CONTROL_TEXT_LEN,
    ntp_control_association, ntp_control_client, ntp_control_client_associations, ntp_control_client_cancel,
    ntp_control_client_deadline, ntp_control_client_free, ntp_control_client_handle_datagram,
    ntp_control_client_handle_timeout, ntp_control_client_new, ntp_control_client_peer_vars,
    ntp_control_client_request, ntp_control_client_response, ntp_control_client_response_data,
    ntp_control_client_response_text, ntp_control_client_server_error, ntp_control_client_system_vars,
    ntp_control_event, ntp_control_peer_vars, ntp_control_response, ntp_control_system_vars,
};
pub use engine::{
    ntp_association_config, ntp_association_config_init, ntp_association_mode, ntp_clock_state, ntp_counters,
    ntp_demobilize_reason, ntp_engine, ntp_engine_add_association, ntp_engine_association_count, ntp_engine_counters,
    ntp_engine_free, ntp_engine_handle_datagram, ntp_engine_handle_timeout, ntp_engine_new, ntp_engine_options,
    ntp_engine_options_init, ntp_engine_peer_status, ntp_engine_poll_output, ntp_engine_remove_association,
    ntp_engine_system_status, ntp_engine_text_view, ntp_event, ntp_event_kind, ntp_output, ntp_output_kind,
    ntp_peer_status, ntp_selection, ntp_sync_source, ntp_system_status, ntp_text_view,
};
pub use result::{ntp_result, ntp_result_message};
pub use time::{
    ntp_timestamp, ntp_timestamp_add_seconds, ntp_timestamp_diff, ntp_timestamp_era, ntp_timestamp_from_unix,
    ntp_timestamp_to_unix,
};
pub use version::{NTP_FFI_VERSION_MAJOR, NTP_FFI_VERSION_MINOR, NTP_FFI_VERSION_PATCH, ntp_version};
pub use wire::{
    NTP_HEADER_LEN, NTP_MAX_DATAGRAM, NTP_MAX_DIGEST_LEN, ntp_extension_field, ntp_packet_decode, ntp_packet_encode,
    ntp_packet_extension, ntp_packet_header, ntp_packet_header_init, ntp_packet_trailer, ntp_trailer_info,
};
