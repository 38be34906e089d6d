//! What every target checks: the front end (decode, parse, check) finishes on any input,
//! and its diagnostics are well formed (a help each, spans inside their file on char
//! boundaries, both renderings finish) — `semc::diag::well_formed`, as the tests use it.

pub fn front_end(bytes: &[u8]) {
    let (ws, diags) = match semc::run::check_bytes("fuzz.sem", bytes) {
        Ok(r) => r,
        Err(_) => panic!("internal failure of the front end"),
    };
    if let Err(e) = semc::diag::well_formed(&ws.map, &diags) {
        panic!("{e}");
    }
}
