//! The example workspaces shipped in `examples/`, embedded so `semc demo` works anywhere.

/// `examples/tpch/`: file name and text (the schema, then the 22 TPC-H queries).
pub const TPCH: &[(&str, &str)] = &[
    ("schema.sem", include_str!("../../examples/tpch/schema.sem")),
    ("q01.sem", include_str!("../../examples/tpch/q01.sem")),
    ("q02.sem", include_str!("../../examples/tpch/q02.sem")),
    ("q03.sem", include_str!("../../examples/tpch/q03.sem")),
    ("q04.sem", include_str!("../../examples/tpch/q04.sem")),
    ("q05.sem", include_str!("../../examples/tpch/q05.sem")),
    ("q06.sem", include_str!("../../examples/tpch/q06.sem")),
    ("q07.sem", include_str!("../../examples/tpch/q07.sem")),
    ("q08.sem", include_str!("../../examples/tpch/q08.sem")),
    ("q09.sem", include_str!("../../examples/tpch/q09.sem")),
    ("q10.sem", include_str!("../../examples/tpch/q10.sem")),
    ("q11.sem", include_str!("../../examples/tpch/q11.sem")),
    ("q12.sem", include_str!("../../examples/tpch/q12.sem")),
    ("q13.sem", include_str!("../../examples/tpch/q13.sem")),
    ("q14.sem", include_str!("../../examples/tpch/q14.sem")),
    ("q15.sem", include_str!("../../examples/tpch/q15.sem")),
    ("q16.sem", include_str!("../../examples/tpch/q16.sem")),
    ("q17.sem", include_str!("../../examples/tpch/q17.sem")),
    ("q18.sem", include_str!("../../examples/tpch/q18.sem")),
    ("q19.sem", include_str!("../../examples/tpch/q19.sem")),
    ("q20.sem", include_str!("../../examples/tpch/q20.sem")),
    ("q21.sem", include_str!("../../examples/tpch/q21.sem")),
    ("q22.sem", include_str!("../../examples/tpch/q22.sem")),
];
