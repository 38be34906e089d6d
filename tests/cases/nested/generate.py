"""Writes `files/`, a Delta table with nested columns as other tools write them (pyarrow
and delta-rs's Python writer: lists' items named `element`, maps' entries `key_value`).

Run once, by hand (`pip install deltalake==1.6.6 pyarrow`); the table is kept as data.
"""
import pathlib
import shutil

import deltalake
import pyarrow as pa

HERE = pathlib.Path(__file__).parent
span = pa.struct([("bstart", pa.int64()), ("bend", pa.int64())])
qname = pa.struct([("name", pa.string()), ("source", pa.string())])
defs = pa.list_(pa.struct([("name", pa.string()), ("kind", pa.string()), ("span", span), ("qnames", pa.list_(qname))]))
schema = pa.schema([
    ("file_id", pa.string()),
    ("path", pa.string()),
    ("loc", span),
    ("defs", defs),
    ("attrs", pa.map_(pa.string(), pa.string())),
    ("tags", pa.list_(pa.string())),
    ("sizes", pa.list_(pa.int32())),
])
rows = [
    {"file_id": "f1", "path": "a.py", "loc": {"bstart": 0, "bend": 100},
     "defs": [
         {"name": "f", "kind": "function", "span": {"bstart": 0, "bend": 10},
          "qnames": [{"name": "a.f", "source": "def"}, {"name": "f", "source": "import"}]},
         {"name": "C", "kind": "class", "span": {"bstart": 20, "bend": 90}, "qnames": []},
         {"name": "g", "kind": "function", "span": {"bstart": 40, "bend": 60}, "qnames": None},
     ],
     "attrs": [("lang", "py"), ("enc", "utf-8")], "tags": ["x", "y", None, "z"], "sizes": [3, 1, 2]},
    {"file_id": "f2", "path": "b.py", "loc": {"bstart": 0, "bend": 5}, "defs": [],
     "attrs": [("lang", "py"), ("owner", None)], "tags": [], "sizes": [7]},
    {"file_id": "f3", "path": "c.py", "loc": None, "defs": None, "attrs": None, "tags": None, "sizes": None},
    {"file_id": "f4", "path": "d.py", "loc": {"bstart": 5, "bend": None},
     "defs": [{"name": "h", "kind": "function", "span": None, "qnames": [{"name": "d.h", "source": "def"}]}],
     "attrs": [], "tags": ["y"], "sizes": []},
]
shutil.rmtree(HERE / "files", ignore_errors=True)
deltalake.write_deltalake(str(HERE / "files"), pa.Table.from_pylist(rows, schema=schema))
