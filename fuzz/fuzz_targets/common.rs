//! What every target checks: the front end (decode, parse, check) finishes on any input,
//! every diagnostic has a help and spans inside its file on char boundaries, and both
//! renderings (miette text and JSON lines) finish.

use semc::load::Workspace;
use std::path::Path;

pub fn front_end(bytes: &[u8]) {
    let ws = Workspace::from_bytes("fuzz.sem", bytes, Path::new("/nonexistent/semc-fuzz"));
    let funcs = semc::driver::stdlib().expect("the embedded stdlib parses");
    let (_, mut diags) = semc::check::check(&ws, &vec![], funcs);
    diags.extend(ws.diags.iter().cloned());
    for d in &diags {
        assert!(d.help.is_some(), "{} has no help", d.code.as_str());
        for l in std::iter::once(&d.primary).chain(&d.secondary) {
            let text = &ws.map.get(l.span.file).text;
            let (s, e) = (l.span.start as usize, l.span.end as usize);
            assert!(s <= e && e <= text.len(), "{}: span {s}..{e} outside {} bytes", d.code.as_str(), text.len());
            assert!(text.is_char_boundary(s) && text.is_char_boundary(e), "{}: span off char boundaries", d.code.as_str());
        }
    }
    let _ = semc::diag::render(&ws.map, &diags, false);
    let _ = semc::diag::render(&ws.map, &diags, true);
    let _ = semc::diag::render_json(&ws.map, &diags);
}
