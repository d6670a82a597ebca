//! Mode 6 control messages (RFC 9327): what `ntpq` speaks to read a
//! server's system and peer variables.
//!
//! The same two layers as the time packets, with the same contract:
//!
//! * [`ControlPacket`]: a view over a byte buffer; [`ControlPacket::new_checked`]
//!   is the one door for untrusted bytes. [`ControlRepr`]: the message as
//!   plain values, borrowing its data. Both `no_std`, neither allocates.
//! * An optional MAC after the data, signed with [`ControlRepr::emit_signed`]
//!   and checked with [`ControlPacket::verify`], using the keys of
//!   [`auth`](crate::auth).
//! * [`SystemStatus`] and [`PeerStatus`]: the 16-bit status words as typed
//!   values, with the tally character `ntpq -p` prints ([`PeerSelection`]).
//! * [`VarListWriter`] and [`parse_var_list`]: the `name=value` text of
//!   READVAR responses, written as ntpd writes it and read as hostile input.
//! * [`fragments`] and [`Reassembler`]: responses longer than 468 bytes.
//!
//! ```
//! use ntp_wire::control::{ControlPacket, ControlRepr, Opcode, VarListWriter, parse_var_list};
//!
//! // A READVAR request for two system variables, as `ntpq -c "rv 0 stratum,offset"` sends it.
//! let request = ControlRepr { opcode: Opcode::ReadVariables, sequence: 1, data: b"stratum,offset", ..Default::default() };
//! let mut buf = [0u8; 64];
//! let len = request.emit(&mut buf)?;
//!
//! // The server side: untrusted bytes through new_checked.
//! let packet = ControlPacket::new_checked(&buf[..len])?;
//! let names: Vec<_> = parse_var_list(packet.data()).map(|v| v.map(|v| v.name)).collect::<Result<_, _>>()?;
//! assert_eq!(names, ["stratum", "offset"]);
//!
//! let mut text = [0u8; 64];
//! let mut list = VarListWriter::new(&mut text);
//! list.push_uint("stratum", 2)?;
//! list.push_decimal("offset", 0.125, 6)?;
//! let text_len = list.finish()?;
//! let response = ControlRepr { response: true, data: &text[..text_len], ..ControlRepr::parse(&packet) };
//! let len = response.emit(&mut buf)?;
//! assert_eq!(ControlPacket::new_checked(&buf[..len])?.data(), b"stratum=2, offset=0.125000\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod codes;
mod error;
mod fragment;
mod packet;
mod status;
mod varlist;

pub use codes::{ErrorCode, Opcode};
pub use error::{ControlError, ReassemblyError, VarListError};
pub use fragment::{Fragment, Fragments, MAX_FRAGMENTS, MAX_PAYLOAD_LEN, Reassembler, fragments};
pub use packet::{CONTROL_HEADER_LEN, ControlPacket, ControlRepr, MAX_DATA_LEN};
pub use status::{PeerSelection, PeerStatus, SystemStatus};
pub use varlist::{MAX_NAME_LEN, MAX_VALUE_LEN, VarList, VarListWriter, Variable, parse_var_list};
