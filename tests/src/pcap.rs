//! pcap writing (filled in with the tshark agreement test).
