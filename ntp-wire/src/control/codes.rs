//! Opcodes and error codes of mode 6 (RFC 9327 §2 and §3; the numbers ntpd
//! and NTPsec use in `include/ntp_control.h`).

use core::fmt;

macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $mask:expr, {
            $($(#[$vmeta:meta])* $variant:ident = $value:expr, $text:expr;)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value with no name here; kept so that encoding gives the
            /// same bits back.
            Unknown(u8),
        }

        impl $name {
            /// From the field's bits (higher bits are ignored).
            #[inline]
            pub const fn from_bits(bits: u8) -> Self {
                match bits & $mask {
                    $($value => $name::$variant,)*
                    other => $name::Unknown(other),
                }
            }

            /// The field's bits.
            #[inline]
            pub const fn to_bits(self) -> u8 {
                match self {
                    $($name::$variant => $value,)*
                    $name::Unknown(bits) => bits & $mask,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant => f.write_str($text),)*
                    $name::Unknown(bits) => write!(f, "unknown ({bits})"),
                }
            }
        }
    };
}

code_enum! {
    /// The 5-bit operation code of a control message.
    Opcode, 0x1f, {
        /// 0: unspecified.
        Unspecified = 0, "unspecified";
        /// 1: read status (the association list, or one association's status).
        ReadStatus = 1, "read status";
        /// 2: read variables (system or association).
        ReadVariables = 2, "read variables";
        /// 3: write variables.
        WriteVariables = 3, "write variables";
        /// 4: read reference-clock variables.
        ReadClock = 4, "read clock variables";
        /// 5: write reference-clock variables.
        WriteClock = 5, "write clock variables";
        /// 6: set a trap (asynchronous event reports).
        SetTrap = 6, "set trap";
        /// 7: an asynchronous message (a trap report).
        AsyncMessage = 7, "asynchronous message";
        /// 8: runtime configuration (ntpd).
        Configure = 8, "configure";
        /// 9: save the configuration (ntpd).
        SaveConfig = 9, "save configuration";
        /// 10: read the most-recently-used client list (ntpd `mrulist`).
        ReadMru = 10, "read MRU list";
        /// 11: read ordered lists (ntpd `ifstats`, `reslist`).
        ReadOrderedList = 11, "read ordered list";
        /// 12: request a nonce (ntpd, before `ReadMru`).
        RequestNonce = 12, "request nonce";
        /// 31: clear a trap.
        UnsetTrap = 31, "unset trap";
    }
}

code_enum! {
    /// The error code an error response (E bit set) carries in the high
    /// byte of its status word.
    ErrorCode, 0xff, {
        /// 0: unspecified.
        Unspecified = 0, "unspecified error";
        /// 1: authentication failure (or an operation that needs a key).
        Permission = 1, "permission denied";
        /// 2: the request was malformed.
        BadFormat = 2, "bad request format";
        /// 3: unknown opcode.
        BadOpcode = 3, "bad opcode";
        /// 4: unknown association id.
        BadAssociation = 4, "unknown association";
        /// 5: unknown variable name.
        UnknownVariable = 5, "unknown variable";
        /// 6: invalid variable value.
        BadValue = 6, "bad variable value";
        /// 7: administratively prohibited.
        Restricted = 7, "administratively prohibited";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_opcode_numbers_are_ntpds() {
        let table = [
            (0, Opcode::Unspecified),
            (1, Opcode::ReadStatus),
            (2, Opcode::ReadVariables),
            (3, Opcode::WriteVariables),
            (4, Opcode::ReadClock),
            (5, Opcode::WriteClock),
            (6, Opcode::SetTrap),
            (7, Opcode::AsyncMessage),
            (8, Opcode::Configure),
            (9, Opcode::SaveConfig),
            (10, Opcode::ReadMru),
            (11, Opcode::ReadOrderedList),
            (12, Opcode::RequestNonce),
            (31, Opcode::UnsetTrap),
        ];
        for (bits, op) in table {
            assert_eq!(Opcode::from_bits(bits), op);
            assert_eq!(op.to_bits(), bits);
        }
        assert_eq!(Opcode::from_bits(13), Opcode::Unknown(13));
        // The R, E and M bits above the opcode are not part of it.
        assert_eq!(Opcode::from_bits(0x82), Opcode::ReadVariables);
    }

    #[test]
    fn test_every_bit_pattern_round_trips() {
        for bits in 0..=0x1f {
            assert_eq!(Opcode::from_bits(bits).to_bits(), bits);
        }
        for bits in 0..=0xff {
            assert_eq!(ErrorCode::from_bits(bits).to_bits(), bits);
        }
        assert_eq!(ErrorCode::from_bits(5), ErrorCode::UnknownVariable);
        assert_eq!(ErrorCode::from_bits(7).to_string(), "administratively prohibited");
        assert_eq!(ErrorCode::from_bits(9).to_string(), "unknown (9)");
    }
}
