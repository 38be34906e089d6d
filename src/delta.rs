//! Delta access: locations, snapshots pinned to a version, schemas and providers.
//!
//! Invariant: a table is only ever read at the version the compiler pinned; a pin that the
//! log does not hold is an error, never a read of another version.

use crate::types::Type;
use deltalake::DeltaTable;
use std::path::Path;
use url::Url;

/// A Delta table as the checker sees it: the schema at the pinned version.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub url: Url,
    pub version: i64,
    pub columns: Vec<TableColumn>,
    pub partition_columns: Vec<String>,
    pub protocol: serde_json::Value,
    /// The data files of the snapshot, as the log names them.
    pub files: Vec<String>,
    /// `delta.enableChangeDataFeed = true` at this version.
    pub change_data_feed: bool,
}

#[derive(Debug, Clone)]
pub struct TableColumn {
    pub name: String,
    /// `None` when the Delta type has no `.sem` type (the Delta type name is in `delta_type`).
    pub ty: Option<Type>,
    pub delta_type: String,
    pub nullable: bool,
}

#[derive(Debug, Clone)]
pub enum TableError {
    NotFound(String),
    Unreadable(String),
    VersionNotAvailable(String),
    BadLocation(String),
    /// The object store refused or could not be reached (endpoint, bucket, credentials).
    Unreachable(String),
    /// The table needs a protocol feature the Delta reader does not support.
    Unsupported(String),
}

impl TableError {
    pub fn message(&self) -> &str {
        match self {
            TableError::NotFound(m)
            | TableError::Unreadable(m)
            | TableError::VersionNotAvailable(m)
            | TableError::BadLocation(m)
            | TableError::Unreachable(m)
            | TableError::Unsupported(m) => m,
        }
    }
}

/// How a source names its snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum PinSpec {
    Latest,
    Version(i64),
    Timestamp(String),
}

/// Resolves a location from a `.sem` file: a URI, or a path relative to the workspace root.
pub fn resolve_location(root: &Path, location: &str) -> Result<Url, TableError> {
    if location.is_empty() {
        return Err(TableError::BadLocation("the location is empty".into()));
    }
    if location.contains("://") {
        return Url::parse(location)
            .map_err(|e| TableError::BadLocation(format!("`{location}` is not a valid URI: {e}")));
    }
    let p = Path::new(location);
    let abs = if p.is_absolute() { p.to_path_buf() } else { root.join(p) };
    let abs = if abs.is_absolute() {
        abs
    } else {
        std::env::current_dir().map(|d| d.join(&abs)).unwrap_or(abs)
    };
    let abs = normalize(&abs);
    Url::from_directory_path(&abs)
        .map_err(|_| TableError::BadLocation(format!("`{}` is not a valid path", abs.display())))
}

/// The URL as a folder (ending with `/`), so joining a name goes inside it.
pub fn as_folder(url: &Url) -> Url {
    let mut u = url.clone();
    if !u.path().ends_with('/') {
        u.set_path(&format!("{}/", u.path()));
    }
    u
}

/// Removes `.` and `..` components without touching the file system.
fn normalize(p: &Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The object-store options for a table at `url`: for S3, conditional writes (`If-None-Match`
/// on each commit file) unless a locking provider or another mode is configured, so two
/// writers never overwrite each other's commit. Credentials and endpoints come from each
/// cloud's usual environment variables and files (`AWS_*`, `AZURE_STORAGE_*`,
/// `GOOGLE_APPLICATION_CREDENTIALS`, instance metadata), read by the object store itself.
pub fn storage_options(url: &Url) -> std::collections::HashMap<String, String> {
    // the active profile's options (semc.toml), then the defaults
    let mut options = crate::project::storage_options();
    if matches!(url.scheme(), "s3" | "s3a") {
        let configured = [
            "AWS_CONDITIONAL_PUT",
            "AWS_S3_LOCKING_PROVIDER",
            "AWS_S3_ALLOW_UNSAFE_RENAME",
        ]
        .iter()
        .any(|k| std::env::var_os(k).is_some() || options.keys().any(|o| o.eq_ignore_ascii_case(k)));
        if !configured {
            options.insert("aws_conditional_put".to_string(), "etag".to_string());
        }
    }
    options
}

/// A table handle at `url` with its object-store options (not loaded).
pub fn builder(url: &Url) -> Result<deltalake::DeltaTableBuilder, deltalake::DeltaTableError> {
    Ok(deltalake::DeltaTableBuilder::from_url(url.clone())?.with_storage_options(storage_options(url)))
}

/// The object store at the root of `url`'s bucket or container (`s3://bucket`), with the
/// options a table there is opened with: where a cluster's executors read data files.
pub fn root_store(url: &Url) -> Result<std::sync::Arc<dyn deltalake::ObjectStore>, deltalake::DeltaTableError> {
    Ok(builder(url)?.build_storage()?.root_object_store(None))
}

/// The object store at `url`, a table's location (paths relative to it), with the options
/// the table is opened with: where a cluster's executors write an output's files.
pub fn table_store(url: &Url) -> Result<std::sync::Arc<dyn deltalake::ObjectStore>, deltalake::DeltaTableError> {
    Ok(builder(url)?.build_storage()?.object_store(None))
}

/// A table at `url` to write: loaded when it exists, empty when there is no table yet.
pub async fn for_writing(url: &Url) -> Result<DeltaTable, deltalake::DeltaTableError> {
    DeltaTable::try_from_url_with_storage_options(url.clone(), storage_options(url)).await
}

/// Opens a table at a pinned snapshot.
pub async fn open(url: &Url, pin: &PinSpec) -> Result<DeltaTable, TableError> {
    if url.scheme() == "file" {
        let Ok(path) = url.to_file_path() else {
            return Err(TableError::BadLocation(format!("`{url}` is not a local path")));
        };
        if !path.is_dir() {
            return Err(TableError::NotFound(format!("no folder at `{}`", path.display())));
        }
        if !path.join("_delta_log").is_dir() {
            return Err(TableError::NotFound(format!(
                "`{}` has no `_delta_log` folder: it is not a Delta table",
                path.display()
            )));
        }
    }
    let builder = match builder(url) {
        Ok(b) => b,
        Err(e) => return Err(classify(e, pin)),
    };
    let result = match pin {
        PinSpec::Latest => builder.load().await,
        PinSpec::Version(v) => {
            if *v < 0 {
                return Err(TableError::VersionNotAvailable(format!("version {v} is negative")));
            }
            builder.with_version(*v as _).load().await
        }
        PinSpec::Timestamp(ts) => {
            let Ok(at) = chrono::DateTime::parse_from_rfc3339(ts) else {
                return Err(TableError::VersionNotAvailable(format!(
                    "`{ts}` is not an RFC 3339 timestamp"
                )));
            };
            let loaded = match builder.with_datestring(ts) {
                Ok(b) => b.load().await,
                Err(e) => Err(e),
            };
            // delta-rs gives the first version for a time before the table existed: that
            // is another snapshot than the one asked for, never read
            if let Ok(t) = &loaded
                && let (Some(v), Ok(snapshot)) = (t.version(), t.snapshot())
                && let Some(committed) = snapshot.version_timestamp(v)
                && committed > at.timestamp_millis()
            {
                return Err(TableError::VersionNotAvailable(format!(
                    "the table has no version at or before {ts}: its first version was committed after it"
                )));
            }
            loaded
        }
    };
    match (result, pin) {
        (Ok(t), _) => Ok(t),
        (Err(e), PinSpec::Version(v)) => Err(unreadable_version(url, *v, e).await),
        (Err(e), _) => Err(classify(e, pin)),
    }
}

/// An error's text without the backtrace some Delta errors append (when `RUST_BACKTRACE`
/// is set): a diagnostic says what is wrong, not where in delta-rs.
pub fn without_backtrace(text: &str) -> String {
    let mut out = vec![];
    for line in text.lines() {
        let t = line.trim_start();
        let frame = t
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if frame || t.starts_with("Backtrace") || t.starts_with("stack backtrace") {
            break;
        }
        out.push(line);
    }
    out.join("\n").trim_end().to_string()
}

/// What went wrong opening a table, by the error's type.
fn classify(e: deltalake::DeltaTableError, pin: &PinSpec) -> TableError {
    use delta_kernel::Error as K;
    use deltalake::DeltaTableError as E;
    let text = without_backtrace(&e.to_string());
    match (&e, pin) {
        (
            E::KernelError(K::Unsupported(_) | K::InvalidProtocol(_) | K::InvalidColumnMappingMode(_))
            | E::MissingFeature { .. },
            _,
        ) => TableError::Unsupported(text),
        (E::InvalidTableLocation(_) | E::KernelError(K::InvalidTableLocation(_) | K::InvalidUrl(_)), _) => {
            TableError::BadLocation(text)
        }
        (E::NotATable(_), PinSpec::Latest) => TableError::NotFound(text),
        (E::InvalidVersion(_) | E::KernelError(K::MissingVersion), _) => TableError::VersionNotAvailable(text),
        (E::InvalidJsonLog { .. } | E::KernelError(K::MalformedJson(_)), _) => TableError::Unreadable(text),
        (E::ObjectStore { source } | E::KernelError(K::ObjectStore(source)), _)
            if !matches!(source, deltalake::ObjectStoreError::NotFound { .. }) =>
        {
            TableError::Unreachable(text)
        }
        (_, PinSpec::Version(v)) => TableError::VersionNotAvailable(format!("version {v} cannot be read: {text}")),
        (_, PinSpec::Timestamp(ts)) => TableError::VersionNotAvailable(format!("no version at `{ts}`: {text}")),
        _ => TableError::Unreadable(text),
    }
}

/// Why a pinned version cannot be read, said from the table's own log when it can be:
/// past its latest version, or before the oldest the log still holds.
async fn unreadable_version(url: &Url, v: i64, e: deltalake::DeltaTableError) -> TableError {
    let pin = PinSpec::Version(v);
    let latest = match builder(url) {
        Ok(b) => b.load().await,
        Err(e) => Err(e),
    };
    let latest = match latest {
        Ok(t) => t.version().map(|l| l as i64),
        Err(_) => None,
    };
    match (latest, classify(e, &pin)) {
        (Some(latest), _) if v > latest => TableError::VersionNotAvailable(format!(
            "version {v} is not in the log: the table's latest version is {latest}"
        )),
        (Some(latest), TableError::VersionNotAvailable(_)) => TableError::VersionNotAvailable(format!(
            "version {v} is no longer in the log (its commits were cleaned up); the table's latest version is {latest}"
        )),
        (_, other) => other,
    }
}

/// Reads what the checker needs from a snapshot.
pub fn table_info(url: &Url, table: &DeltaTable) -> Result<TableInfo, TableError> {
    let snap = table.snapshot().map_err(|e| TableError::Unreadable(e.to_string()))?;
    let version = snap.version();
    let schema = snap.schema();
    let mut columns = vec![];
    for f in schema.fields() {
        columns.push(TableColumn {
            name: f.name().to_string(),
            ty: sem_type(f.data_type()),
            delta_type: delta_type_name(f.data_type()),
            nullable: f.is_nullable(),
        });
    }
    let protocol = serde_json::to_value(snap.protocol()).unwrap_or(serde_json::Value::Null);
    Ok(TableInfo {
        url: url.clone(),
        version: version as i64,
        columns,
        partition_columns: snap.metadata().partition_columns().to_vec(),
        protocol,
        files: snap.log_data().iter().map(|f| f.path().to_string()).collect(),
        change_data_feed: snap
            .metadata()
            .configuration()
            .get("delta.enableChangeDataFeed")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
    })
}

/// The name of a Delta type in messages: `long`, `decimal(15,2)`, or the kind of a nested
/// type (`struct`, `array`, `map`) — a nested type semc reads is named by its `.sem` type.
fn delta_type_name(t: &deltalake::kernel::DataType) -> String {
    use deltalake::kernel::DataType as D;
    match t {
        D::Primitive(p) => p.to_string(),
        D::Struct(_) => "struct".into(),
        D::Array(_) => "array".into(),
        D::Map(_) => "map".into(),
        other => other.to_string(),
    }
}

/// The `.sem` type of a Delta type: the type itself, or the one it widens to without loss.
pub fn sem_type(t: &deltalake::kernel::DataType) -> Option<Type> {
    use deltalake::kernel::{DataType as D, PrimitiveType as P};
    let p = match t {
        D::Primitive(p) => p,
        // nested types part by part, each leaf as above
        D::Array(a) => return Some(Type::list(sem_type(a.element_type())?)),
        D::Map(m) => return Some(Type::map(sem_type(m.key_type())?, sem_type(m.value_type())?)),
        D::Struct(s) => {
            let fields = s
                .fields()
                .map(|f| {
                    Some(crate::types::StructField {
                        name: f.name().to_string(),
                        ty: sem_type(f.data_type())?,
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            return (!fields.is_empty()).then(|| Type::structure(fields));
        }
        _ => return None,
    };
    Some(match p {
        P::Long => Type::Int64,
        P::Integer => Type::Int32,
        // narrower Delta types read as the `.sem` type they widen to without loss (the
        // scan casts): `byte`/`short` as int32, `float` as float64, and a timestamp
        // without time zone as a UTC timestamp
        P::Short | P::Byte => Type::Int32,
        P::Float | P::Double => Type::Float64,
        P::TimestampNtz | P::Timestamp => Type::Timestamp,
        P::Boolean => Type::Bool,
        P::String => Type::String,
        P::Date => Type::Date,
        P::Decimal(d) => Type::Decimal(d.precision(), i8::try_from(d.scale()).ok()?),
        _ => return None,
    })
}

pub use crate::ir::ScanOptions;

/// The table name under which a pinned snapshot appears in a Substrait plan:
/// `<url>@v<version>`, followed by `+<options as JSON>` when the source has scan options.
/// The consumer side parses it back ([`parse_pinned_name`]), so a plan file alone says
/// exactly which snapshot each read sees, and how.
pub fn pinned_name(url: &Url, version: i64) -> String {
    format!("{url}@v{version}")
}

pub fn pinned_name_with(url: &Url, version: i64, options: &ScanOptions) -> String {
    if options.is_default() {
        pinned_name(url, version)
    } else {
        format!(
            "{url}@v{version}+{}",
            serde_json::to_string(options).unwrap_or_default()
        )
    }
}

pub fn parse_pinned_name(name: &str) -> Option<(Url, i64, ScanOptions)> {
    let (u, rest) = name.rsplit_once("@v")?;
    let (v, options) = match rest.split_once('+') {
        Some((v, json)) => (v, serde_json::from_str(json).ok()?),
        None => (rest, ScanOptions::default()),
    };
    Some((Url::parse(u).ok()?, v.parse().ok()?, options))
}
