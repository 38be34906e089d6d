//! `MappedLocalFiles`: local files read by mapping them into memory instead of copying them.
//!
//! The engine reads a parquet file as byte ranges (the footer, then each column chunk it
//! needs). The local store reads a range into a new buffer: the kernel zeroes the fresh
//! pages, the store zeroes the buffer again, then the kernel copies the page cache into it.
//! At TPC-H SF 10 that was 8–10 % of a run's CPU (`perf` over `semc run`: `memset`,
//! `_copy_to_iter`, page faults). Mapped, a range is the page cache itself: a `Bytes` that
//! owns the mapping of that range, unmapped when the last slice of it is dropped.
//!
//! Everything but reads goes to the local store unchanged, and a read goes through it first
//! (the file's metadata, the request's preconditions and range checks): only the bytes are
//! taken from the mapping. Data files are never changed in place (a Delta table only adds
//! and removes whole files), so a mapping stays valid for as long as it is held, even when
//! the file is deleted meanwhile.

use bytes::Bytes;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use futures::stream::BoxStream;
use std::fmt;
use std::ops::Range;

#[derive(Debug, Default)]
pub struct MappedLocalFiles {
    local: LocalFileSystem,
}

impl fmt::Display for MappedLocalFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MappedLocalFiles({})", self.local)
    }
}

/// The bytes of `range` of `file` (of `file_len` bytes) mapped, owning their mapping; `None`
/// when they cannot be mapped (a range past the file's end, a special file), and the caller
/// reads them as the local store does. Each range is mapped alone and its pages filled in
/// at once (`MAP_POPULATE`): a column chunk is read whole, and filling the page table in
/// one call costs less than a fault every few pages as the decoder goes; mapping the whole
/// file would also map (and unmap, on every core) the columns not read.
fn mapped(file: &std::fs::File, file_len: u64, range: &Range<u64>) -> Option<Bytes> {
    if range.start > range.end || range.end > file_len {
        return None;
    }
    if range.is_empty() {
        return Some(Bytes::new());
    }
    let len = usize::try_from(range.end - range.start).ok()?;
    // SAFETY: the mapping is read-only, within the file's length, and data files are never
    // written in place (see the module's comment); a file removed while mapped keeps its
    // pages until unmapped.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(range.start)
            .len(len)
            .populate()
            .map(file)
    }
    .ok()?;
    Some(Bytes::from_owner(map))
}

/// `f` on tokio's blocking threads (opening and mapping a file may wait on the disk).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| datafusion::object_store::Error::Generic {
            store: "MappedLocalFiles",
            source: Box::new(e),
        })?
}

#[async_trait::async_trait]
impl ObjectStore for MappedLocalFiles {
    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let result = self.local.get_opts(location, options).await?;
        let GetResultPayload::File(file, path) = result.payload else {
            return Ok(result);
        };
        let (range, file_len) = (result.range.clone(), result.meta.size);
        let payload = match blocking(move || Ok((mapped(&file, file_len, &range), file))).await? {
            (Some(bytes), _) => GetResultPayload::Stream(Box::pin(futures::stream::once(async move { Ok(bytes) }))),
            (None, file) => GetResultPayload::File(file, path),
        };
        Ok(GetResult { payload, ..result })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let path = self.local.path_to_filesystem(location)?;
        let wanted = ranges.to_vec();
        let mapped = blocking(move || {
            let Ok(file) = std::fs::File::open(&path) else {
                return Ok(None);
            };
            let Ok(meta) = file.metadata() else {
                return Ok(None);
            };
            Ok(wanted
                .iter()
                .map(|r| mapped(&file, meta.len(), r))
                .collect::<Option<Vec<_>>>())
        })
        .await?;
        match mapped {
            Some(bytes) => Ok(bytes),
            // a missing file, or a range past its end: the local store's own error
            None => self.local.get_ranges(location, ranges).await,
        }
    }

    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.local.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.local.put_multipart_opts(location, opts).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.local.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.local.list(prefix)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        self.local.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.local.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.local.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.local.rename_opts(from, to, options).await
    }
}
