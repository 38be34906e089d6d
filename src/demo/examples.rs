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

/// `examples/codeanatomy/`: the workspace that builds a code property graph from the tables
/// `semc extract` writes (under `lake/`), its outputs under `graph/`.
pub const CODEANATOMY: &[(&str, &str)] = &[
    ("sources.sem", include_str!("../../examples/codeanatomy/sources.sem")),
    ("graph.sem", include_str!("../../examples/codeanatomy/graph.sem")),
];

/// `examples/codeanatomy/repo/`: the small Python repository the demo extracts (one file
/// does not parse, on purpose).
pub const CODEANATOMY_REPO: &[(&str, &str)] = &[
    ("main.py", include_str!("../../examples/codeanatomy/repo/main.py")),
    ("broken.py", include_str!("../../examples/codeanatomy/repo/broken.py")),
    (
        "shapes/__init__.py",
        include_str!("../../examples/codeanatomy/repo/shapes/__init__.py"),
    ),
    (
        "shapes/geometry.py",
        include_str!("../../examples/codeanatomy/repo/shapes/geometry.py"),
    ),
    (
        "shapes/report.py",
        include_str!("../../examples/codeanatomy/repo/shapes/report.py"),
    ),
];
