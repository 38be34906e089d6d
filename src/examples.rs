//! The example workspaces shipped in `examples/`, embedded so `semc demo` works anywhere.

/// `examples/tpch/`: file name and text.
pub const TPCH: &[(&str, &str)] = &[
    ("schema.sem", include_str!("../examples/tpch/schema.sem")),
    ("q01.sem", include_str!("../examples/tpch/q01.sem")),
    ("q03.sem", include_str!("../examples/tpch/q03.sem")),
    ("q05.sem", include_str!("../examples/tpch/q05.sem")),
    ("q06.sem", include_str!("../examples/tpch/q06.sem")),
];
