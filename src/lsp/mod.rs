//! `semc lsp`: a Language Server over standard input and output.
//!
//! Built on `lsp-server` and `lsp-types`, the synchronous transport and protocol types
//! rust-analyzer uses: the checker is synchronous and fast, so one thread answers requests in
//! order, with no async runtime to coordinate. A workspace is the folder of an open file
//! (every `.sem` file in it and what they import), open buffers standing for their files.
//! Diagnostics are published a short while after the last keystroke (debounced); a request
//! first brings the analysis up to date. Delta tables are read in the background, once
//! each; until a table is read, or when it cannot be, the workspace is checked from its
//! declarations. A folder's `semc.toml` profile (`SEMC_PROFILE`, else `default`) places its
//! relative tables, as on the command line.

mod analysis;
mod convert;
mod features;

pub use analysis::{Analysis, analyze};

use analysis::TableCache;
use convert::{Lines, path_of, uri_of};
use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, References,
    Request as _,
};
use lsp_types::*;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long after a keystroke diagnostics are published.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// Serves one client on stdin/stdout until it exits.
pub fn serve() -> Result<(), String> {
    let (connection, io) = Connection::stdio();
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let caps = serde_json::to_value(capabilities).map_err(|e| e.to_string())?;
    connection.initialize(caps).map_err(|e| format!("initialize: {e}"))?;
    let mut server = Server::new(connection);
    let result = server.main_loop();
    drop(server);
    io.join().map_err(|e| e.to_string())?;
    result
}

struct Server {
    conn: Connection,
    /// Open buffers by canonical path.
    docs: HashMap<PathBuf, String>,
    /// The latest analysis of each workspace folder.
    analyses: HashMap<PathBuf, Analysis>,
    /// The last analysis of each folder whose files all parsed (completion reads it while
    /// the text under the cursor is incomplete).
    scopes: HashMap<PathBuf, analysis::Scope>,
    dirty: HashSet<PathBuf>,
    due: Option<Instant>,
    tables: TableCache,
    reading: HashSet<String>,
    read_tx: mpsc::Sender<(String, Result<crate::delta::TableInfo, crate::delta::TableError>)>,
    read_rx: mpsc::Receiver<(String, Result<crate::delta::TableInfo, crate::delta::TableError>)>,
    /// The files each folder last published diagnostics for (to clear them).
    published: HashMap<PathBuf, HashSet<PathBuf>>,
}

impl Server {
    fn new(conn: Connection) -> Server {
        let (read_tx, read_rx) = mpsc::channel();
        Server {
            conn,
            docs: HashMap::new(),
            analyses: HashMap::new(),
            scopes: HashMap::new(),
            dirty: HashSet::new(),
            due: None,
            tables: HashMap::new(),
            reading: HashSet::new(),
            read_tx,
            read_rx,
            published: HashMap::new(),
        }
    }

    fn main_loop(&mut self) -> Result<(), String> {
        loop {
            let mut tables_arrived = false;
            while let Ok((key, info)) = self.read_rx.try_recv() {
                self.tables.insert(key, info);
                tables_arrived = true;
            }
            if tables_arrived {
                let roots: Vec<PathBuf> = self.analyses.keys().cloned().collect();
                self.dirty.extend(roots);
                self.due.get_or_insert_with(Instant::now);
            }
            let wait = match self.due {
                Some(due) => due.saturating_duration_since(Instant::now()),
                None if !self.reading.is_empty() => Duration::from_millis(50),
                None => Duration::from_secs(3600),
            };
            let msg = match self.conn.receiver.recv_timeout(wait) {
                Ok(m) => m,
                Err(mpsc_timeout) if mpsc_timeout.is_timeout() => {
                    if self.due.is_some_and(|d| d <= Instant::now()) {
                        self.due = None;
                        self.refresh_all();
                    }
                    continue;
                }
                Err(_) => return Ok(()),
            };
            match msg {
                Message::Request(req) => {
                    if self.conn.handle_shutdown(&req).map_err(|e| e.to_string())? {
                        return Ok(());
                    }
                    let id = req.id.clone();
                    let method = req.method.clone();
                    let response = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.request(req)))
                        .unwrap_or_else(|_| Err(format!("internal error answering `{method}` (a bug in semc)")));
                    self.send(Message::Response(match response {
                        Ok(value) => Response::new_ok(id, value),
                        Err(e) => Response::new_err(id, lsp_server::ErrorCode::InvalidParams as i32, e),
                    }));
                }
                Message::Notification(n) => self.notification(n),
                Message::Response(_) => {}
            }
        }
    }

    fn send(&self, msg: Message) {
        let _ = self.conn.sender.send(msg);
    }

    /// A message in the editor's log for the server.
    fn log(&self, message: &str) {
        let params = LogMessageParams {
            typ: MessageType::ERROR,
            message: message.to_string(),
        };
        self.send(Message::Notification(Notification::new(
            lsp_types::notification::LogMessage::METHOD.to_string(),
            params,
        )));
    }

    fn notification(&mut self, n: Notification) {
        let root = match n.method.as_str() {
            DidOpenTextDocument::METHOD => serde_json::from_value::<DidOpenTextDocumentParams>(n.params)
                .ok()
                .and_then(|p| self.set_text(&p.text_document.uri, Some(p.text_document.text))),
            DidChangeTextDocument::METHOD => serde_json::from_value::<DidChangeTextDocumentParams>(n.params)
                .ok()
                .and_then(|p| {
                    let text = p.content_changes.into_iter().last().map(|c| c.text);
                    self.set_text(&p.text_document.uri, text)
                }),
            DidSaveTextDocument::METHOD => serde_json::from_value::<DidSaveTextDocumentParams>(n.params)
                .ok()
                .and_then(|p| {
                    // a saved file may point at other tables: read them again
                    self.tables.clear();
                    self.reading.clear();
                    root_of(&path_of(&p.text_document.uri)?)
                }),
            DidCloseTextDocument::METHOD => serde_json::from_value::<DidCloseTextDocumentParams>(n.params)
                .ok()
                .and_then(|p| self.set_text(&p.text_document.uri, None)),
            _ => None,
        };
        if let Some(root) = root {
            self.dirty.insert(root);
            self.due = Some(Instant::now() + DEBOUNCE);
        }
    }

    /// Records a buffer's text (None: closed, the file on disk counts again); its folder.
    fn set_text(&mut self, uri: &Uri, text: Option<String>) -> Option<PathBuf> {
        let path = path_of(uri)?;
        match text {
            Some(t) => self.docs.insert(path.clone(), t),
            None => self.docs.remove(&path),
        };
        root_of(&path)
    }

    fn refresh_all(&mut self) {
        let roots: Vec<PathBuf> = self.dirty.drain().collect();
        for root in roots {
            self.refresh(&root);
        }
    }

    /// Analyzes a folder again and publishes its diagnostics.
    fn refresh(&mut self, root: &Path) {
        self.dirty.remove(root);
        let overlay: HashMap<PathBuf, String> = self
            .docs
            .iter()
            .filter(|(p, _)| p.starts_with(root))
            .map(|(p, t)| (p.clone(), t.clone()))
            .collect();
        // the folder's semc.toml profile (SEMC_PROFILE, else `default`) places its tables,
        // as on the command line
        // (this folder's only: the analysis and its table reads run with it in force)
        let profile = match crate::project::load(root, std::env::var("SEMC_PROFILE").ok().as_deref()) {
            Ok(profile) => profile,
            Err(e) => {
                self.log(&format!("semc.toml: {e}"));
                None
            }
        };
        // the front end recurses over the text (its depth is capped): on a large stack, as
        // on the command line; a panic (semc's bug) leaves the previous analysis in place
        let tables = &self.tables;
        let analyzed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let profile = profile.clone();
            crate::run::big_stack(|| crate::project::with_profile(profile, || analyze(root, overlay, tables)))
        }));
        let a = match analyzed {
            Ok(Ok(a)) => a,
            Ok(Err(_)) | Err(_) => {
                self.log(&format!(
                    "internal error: checking {} failed (a bug in semc)",
                    root.display()
                ));
                return;
            }
        };
        for (key, url, pin) in &a.unread {
            if self.reading.insert(key.clone()) {
                let (tx, key, url, pin) = (self.read_tx.clone(), key.clone(), url.clone(), pin.clone());
                let profile = profile.clone();
                std::thread::spawn(move || {
                    // one thread, one runtime on it: the read sees the folder's profile
                    let read = crate::project::with_profile(profile, || {
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .map_err(|e| crate::delta::TableError::Unreadable(e.to_string()))
                            .and_then(|rt| {
                                rt.block_on(async {
                                    let t = crate::delta::open(&url, &pin).await?;
                                    crate::delta::table_info(&url, &t)
                                })
                            })
                    });
                    let _ = tx.send((key, read));
                });
            }
        }
        self.publish(root, &a);
        if a.parsed() {
            self.scopes.insert(root.to_path_buf(), a.scope());
        }
        self.analyses.insert(root.to_path_buf(), a);
    }

    fn publish(&mut self, root: &Path, a: &Analysis) {
        let mut by_file = published_diagnostics(a);
        let previous = self.published.remove(root).unwrap_or_default();
        for gone in previous.difference(&by_file.keys().cloned().collect()) {
            by_file.insert(gone.clone(), vec![]);
        }
        let mut now = HashSet::new();
        for (path, diagnostics) in by_file {
            let Some(uri) = uri_of(&path) else { continue };
            if path.starts_with(root) || self.docs.contains_key(&path) {
                now.insert(path.clone());
            }
            let params = PublishDiagnosticsParams {
                uri,
                diagnostics,
                version: None,
            };
            self.send(Message::Notification(Notification::new(
                PublishDiagnostics::METHOD.to_string(),
                params,
            )));
        }
        self.published.insert(root.to_path_buf(), now);
    }

    /// The up-to-date analysis holding `uri`, and the file's id and text in it.
    fn analysis_for(&mut self, uri: &Uri) -> Result<(&Analysis, crate::span::FileId, PathBuf), String> {
        let path = path_of(uri).ok_or("not a file URI")?;
        let root = root_of(&path).ok_or("a file without a folder")?;
        if self.dirty.contains(&root) || !self.analyses.contains_key(&root) {
            self.refresh(&root);
        }
        let a = self.analyses.get(&root).ok_or("no analysis")?;
        let file = a
            .file_of(&path)
            .ok_or("the file is not part of its folder's workspace")?;
        Ok((a, file, root))
    }

    fn request(&mut self, req: Request) -> Result<serde_json::Value, String> {
        fn params<P: serde::de::DeserializeOwned>(req: Request) -> Result<P, String> {
            serde_json::from_value(req.params).map_err(|e| e.to_string())
        }
        match req.method.as_str() {
            HoverRequest::METHOD => {
                let p: HoverParams = params(req)?;
                let pos = &p.text_document_position_params;
                let (a, file, _) = self.analysis_for(&pos.text_document.uri)?;
                let offset = a.lines(file).offset(pos.position);
                Ok(json(&features::hover(a, file, offset)))
            }
            GotoDefinition::METHOD => {
                let p: GotoDefinitionParams = params(req)?;
                let pos = &p.text_document_position_params;
                let (a, file, _) = self.analysis_for(&pos.text_document.uri)?;
                let offset = a.lines(file).offset(pos.position);
                Ok(json(
                    &features::definition(a, file, offset).map(GotoDefinitionResponse::Scalar),
                ))
            }
            References::METHOD => {
                let p: ReferenceParams = params(req)?;
                let pos = &p.text_document_position;
                let (a, file, _) = self.analysis_for(&pos.text_document.uri)?;
                let offset = a.lines(file).offset(pos.position);
                Ok(json(&features::references(
                    a,
                    file,
                    offset,
                    p.context.include_declaration,
                )))
            }
            DocumentSymbolRequest::METHOD => {
                let p: DocumentSymbolParams = params(req)?;
                let (a, file, _) = self.analysis_for(&p.text_document.uri)?;
                Ok(json(&DocumentSymbolResponse::Nested(features::symbols(a, file))))
            }
            Formatting::METHOD => {
                let p: DocumentFormattingParams = params(req)?;
                let path = path_of(&p.text_document.uri).ok_or("not a file URI")?;
                let text = match self.docs.get(&path) {
                    Some(t) => t.clone(),
                    None => std::fs::read_to_string(&path).map_err(|e| e.to_string())?,
                };
                Ok(json(&features::formatting(&text)))
            }
            CodeActionRequest::METHOD => {
                let p: CodeActionParams = params(req)?;
                Ok(json(&features::code_actions(&p.text_document.uri, &p.context)))
            }
            Completion::METHOD => {
                let p: CompletionParams = params(req)?;
                let pos = &p.text_document_position;
                let path = path_of(&pos.text_document.uri).ok_or("not a file URI")?;
                let (_, _, root) = self.analysis_for(&pos.text_document.uri)?;
                let text = match self.docs.get(&path) {
                    Some(t) => t.clone(),
                    None => std::fs::read_to_string(&path).map_err(|e| e.to_string())?,
                };
                let offset = Lines::new(&text).offset(pos.position);
                let scope = self.scopes.get(&root).cloned().unwrap_or_default();
                let items = features::completion(&scope, &text[..offset]);
                Ok(json(&CompletionResponse::Array(items)))
            }
            _ => Err(format!("semc lsp does not handle `{}`", req.method)),
        }
    }
}

/// Each file of an analysis (stdlib aside) with its diagnostics in the protocol's terms
/// (an empty list for a file without any).
pub fn published_diagnostics(a: &Analysis) -> HashMap<PathBuf, Vec<Diagnostic>> {
    let mut by_file: HashMap<PathBuf, Vec<Diagnostic>> =
        a.ws.map
            .files
            .iter()
            .skip(1)
            .map(|f| (f.path.clone(), vec![]))
            .collect();
    let range = |s: crate::span::Span| a.lines(s.file).range(s.start as usize, s.end as usize);
    for d in &a.diags {
        let path = a.ws.map.get(d.primary.span.file).path.clone();
        by_file
            .entry(path)
            .or_default()
            .push(convert::diagnostic(&a.ws.map, &range, d));
    }
    by_file
}

/// The workspace folder of a file: its folder.
fn root_of(path: &Path) -> Option<PathBuf> {
    path.parent().map(Path::to_path_buf)
}

/// A response body as JSON.
fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}
