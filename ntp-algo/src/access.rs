//! Access control by source address or prefix (the white paper's access groups).
