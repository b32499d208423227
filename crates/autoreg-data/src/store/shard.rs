//! One shard of a token store on disk: documents of ids back to back, `u16` when the
//! vocabulary allows and `u32` otherwise, with their offsets; written in one stream,
//! renamed into place when whole, and read through a memory map.
//!
//! Layout, little-endian (llm.c's shards and nanoGPT's `train.bin`, with an index):
//!
//! | bytes | what |
//! |---|---|
//! | 0..8 | magic `ARSHARD1` |
//! | 8..12 | format version (1) |
//! | 12..16 | id width in bytes (2 or 4) |
//! | 16..24 | documents |
//! | 24..32 | tokens |
//! | 32..36 | largest id (0 when there is none) |
//! | 36..40 | zero |
//! | 40..72 | checksum: blake3 of bytes 0..40 and of the blake3 of the body |
//! | 72..128 | zero |
//! | 128.. | body: the ids, zeros up to a multiple of 8, then documents + 1 offsets (u64) |

use super::StoreError;
use memmap2::Mmap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The store is read by casting its bytes: little-endian machines only.
#[cfg(target_endian = "big")]
compile_error!("the token store's shards are little-endian and read in place");

const MAGIC: &[u8; 8] = b"ARSHARD1";
const VERSION: u32 = 1;
const HEADER: usize = 128;

/// How many bytes an id takes in a shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// `u16`: vocabularies of at most 65,536 ids.
    U16,
    /// `u32`: any vocabulary.
    U32,
}

impl Width {
    /// The narrowest width that holds every id of a vocabulary of `vocab_size`.
    pub fn for_vocab(vocab_size: usize) -> Self {
        if vocab_size <= 1 << 16 { Self::U16 } else { Self::U32 }
    }

    fn bytes(self) -> usize {
        match self {
            Self::U16 => 2,
            Self::U32 => 4,
        }
    }
}

/// The ids of one document (or part of one), in the shard's width.
#[derive(Clone, Copy, Debug)]
pub enum Ids<'a> {
    /// Ids stored as `u16`.
    U16(&'a [u16]),
    /// Ids stored as `u32`.
    U32(&'a [u32]),
}

impl<'a> Ids<'a> {
    /// Number of ids.
    pub fn len(&self) -> usize {
        match self {
            Self::U16(s) => s.len(),
            Self::U32(s) => s.len(),
        }
    }

    /// Whether there is no id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of `range`.
    pub fn slice(&self, range: Range<usize>) -> Ids<'a> {
        match self {
            Self::U16(s) => Self::U16(&s[range]),
            Self::U32(s) => Self::U32(&s[range]),
        }
    }

    /// Appends the ids to `out`.
    pub fn extend_into(&self, out: &mut Vec<u32>) {
        match self {
            Self::U16(s) => out.extend(s.iter().map(|&t| u32::from(t))),
            Self::U32(s) => out.extend_from_slice(s),
        }
    }
}

/// What a finished shard's entry in its store's manifest records, to tell on the next
/// open that the file is the one written: then only its header is read again.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    /// Size of the file in bytes.
    pub len: u64,
    /// Its modification time, in nanoseconds since the epoch.
    pub modified_ns: u128,
    /// Its checksum (hex).
    pub checksum: String,
}

impl Stamp {
    /// The stamp of the shard at `path` with `checksum`, from the file's metadata.
    pub(super) fn of(path: &Path, checksum: String) -> Result<Self, StoreError> {
        let meta = std::fs::metadata(path).map_err(|e| StoreError::io(path, e))?;
        let modified_ns =
            meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        Ok(Self { len: meta.len(), modified_ns, checksum })
    }
}

/// The header fields of a shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    width: Width,
    docs: u64,
    tokens: u64,
    max_id: u32,
    checksum: [u8; 32],
}

impl Header {
    /// The first 40 bytes: what the checksum covers besides the body.
    fn fields(&self) -> [u8; 40] {
        let mut b = [0u8; 40];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(self.width.bytes() as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.docs.to_le_bytes());
        b[24..32].copy_from_slice(&self.tokens.to_le_bytes());
        b[32..36].copy_from_slice(&self.max_id.to_le_bytes());
        b
    }

    fn to_bytes(self) -> [u8; HEADER] {
        let mut b = [0u8; HEADER];
        b[..40].copy_from_slice(&self.fields());
        b[40..72].copy_from_slice(&self.checksum);
        b
    }

    fn parse(bytes: &[u8]) -> Result<Self, String> {
        let bytes = bytes.get(..HEADER).ok_or("shorter than a shard's header")?;
        if &bytes[..8] != MAGIC {
            return Err("not an autoreg token shard".into());
        }
        let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let u64_at = |at: usize| u64::from(u32_at(at)) | (u64::from(u32_at(at + 4)) << 32);
        let version = u32_at(8);
        if version != VERSION {
            return Err(format!("format version {version}, expected {VERSION}"));
        }
        let width = match u32_at(12) {
            2 => Width::U16,
            4 => Width::U32,
            w => return Err(format!("an id width of {w} bytes, expected 2 or 4")),
        };
        let mut checksum = [0u8; 32];
        checksum.copy_from_slice(&bytes[40..72]);
        Ok(Self { width, docs: u64_at(16), tokens: u64_at(24), max_id: u32_at(32), checksum })
    }

    /// Where the offsets start, and the file's size, or `None` when they overflow.
    fn layout(&self) -> Option<(usize, u64)> {
        let ids = usize::try_from(self.tokens).ok()?.checked_mul(self.width.bytes())?;
        let offsets_at = HEADER.checked_add(ids.checked_next_multiple_of(8)?)?;
        let offsets = usize::try_from(self.docs).ok()?.checked_add(1)?.checked_mul(8)?;
        Some((offsets_at, u64::try_from(offsets_at.checked_add(offsets)?).ok()?))
    }

    fn checksum_of(&self, body: blake3::Hash) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.fields());
        hasher.update(body.as_bytes());
        *hasher.finalize().as_bytes()
    }
}

/// Writes one shard: documents streamed in, each whole or (on [`ShardWriter::abort_doc`])
/// not at all; [`ShardWriter::finish`] renames it into place.
pub struct ShardWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
    width: Width,
    vocab_size: usize,
    /// Token offsets of the documents written, starting with 0.
    offsets: Vec<u64>,
    /// Tokens written, the open document's included.
    tokens: u64,
}

impl ShardWriter {
    /// Starts the shard that will be at `path`, for ids of a vocabulary of `vocab_size`.
    pub fn create(path: &Path, vocab_size: usize) -> Result<Self, StoreError> {
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        // Read and write: the body is read back for its checksum.
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| StoreError::io(&tmp, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&[0u8; HEADER]).map_err(|e| StoreError::io(&tmp, e))?;
        Ok(Self {
            path: path.to_owned(),
            tmp,
            out,
            width: Width::for_vocab(vocab_size),
            vocab_size,
            offsets: vec![0],
            tokens: 0,
        })
    }

    /// Tokens in the shard, the open document's included.
    pub fn tokens(&self) -> u64 {
        self.tokens
    }

    /// Appends ids to the open document; an id outside the vocabulary is an error.
    pub fn extend(&mut self, ids: &[u32]) -> Result<(), StoreError> {
        if let Some(&bad) = ids.iter().find(|&&t| t as usize >= self.vocab_size) {
            return Err(StoreError::Shard {
                path: self.path.clone(),
                reason: format!("id {bad} is outside the vocabulary of {}", self.vocab_size),
            });
        }
        let written = match self.width {
            Width::U16 => {
                let narrow: Vec<u16> = ids.iter().map(|&t| t as u16).collect();
                self.out.write_all(bytemuck::cast_slice(&narrow))
            }
            Width::U32 => self.out.write_all(bytemuck::cast_slice(ids)),
        };
        written.map_err(|e| StoreError::io(&self.tmp, e))?;
        self.tokens += ids.len() as u64;
        Ok(())
    }

    /// Closes the open document.
    pub fn end_doc(&mut self) {
        self.offsets.push(self.tokens);
    }

    /// Drops the open document's ids.
    pub fn abort_doc(&mut self) -> Result<(), StoreError> {
        let keep = *self.offsets.last().unwrap_or(&0);
        if keep == self.tokens {
            return Ok(());
        }
        let at = HEADER as u64 + keep * self.width.bytes() as u64;
        let mut cut = || -> std::io::Result<()> {
            self.out.flush()?;
            self.out.get_ref().set_len(at)?;
            self.out.seek(SeekFrom::Start(at)).map(|_| ())
        };
        cut().map_err(|e| StoreError::io(&self.tmp, e))?;
        self.tokens = keep;
        Ok(())
    }

    /// Writes the offsets and the header, flushes the file to disk and renames it into
    /// place; the open document, if any, is dropped. Returns the shard's stamp.
    pub fn finish(mut self) -> Result<Stamp, StoreError> {
        self.abort_doc()?;
        let docs = self.offsets.len() as u64 - 1;
        let mut header = Header { width: self.width, docs, tokens: self.tokens, max_id: 0, checksum: [0; 32] };
        let (offsets_at, size) = header.layout().ok_or_else(|| StoreError::Shard {
            path: self.path.clone(),
            reason: "too large for this machine's addresses".into(),
        })?;
        let written = || -> std::io::Result<File> {
            let ids_end = HEADER as u64 + self.tokens * self.width.bytes() as u64;
            self.out.write_all(&vec![0u8; offsets_at - ids_end as usize])?;
            self.out.write_all(bytemuck::cast_slice(&self.offsets))?;
            let mut file = self.out.into_inner().map_err(|e| e.into_error())?;
            // The body's checksum and largest id, read back from the file: what was
            // written is what is hashed, and a dropped document needs no undoing.
            file.seek(SeekFrom::Start(HEADER as u64))?;
            let ids_bytes = header.tokens * header.width.bytes() as u64;
            let body = hash_and_scan(&mut file, header.width, ids_bytes, &mut header.max_id)?;
            header.checksum = header.checksum_of(body);
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&header.to_bytes())?;
            debug_assert_eq!(file.metadata()?.len(), size);
            file.sync_all()?;
            Ok(file)
        };
        let tmp = self.tmp.clone();
        let result = written().and_then(|_| std::fs::rename(&tmp, &self.path));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(StoreError::io(&self.path, e));
        }
        Stamp::of(&self.path, hex(&header.checksum))
    }
}

/// The blake3 of a shard's body, read from `file` (at the body's start) to its end in
/// buffered reads, not through a map, so that checking a large store keeps no pages
/// resident; `max_id` becomes the largest of the ids in the body's first `ids_bytes`.
fn hash_and_scan(file: &mut File, width: Width, ids_bytes: u64, max_id: &mut u32) -> std::io::Result<blake3::Hash> {
    let mut hasher = blake3::Hasher::new();
    // A multiple of 4, so that no id straddles two reads.
    let mut buf = vec![0u8; 1 << 20];
    let mut seen = 0u64;
    loop {
        let n = read_full(file, &mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        hasher.update(chunk);
        let ids = &chunk[..(ids_bytes.saturating_sub(seen).min(n as u64)) as usize];
        *max_id = match width {
            Width::U16 => {
                ids.chunks_exact(2).map(|c| u32::from(u16::from_le_bytes([c[0], c[1]]))).fold(*max_id, u32::max)
            }
            Width::U32 => {
                ids.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).fold(*max_id, u32::max)
            }
        };
        seen += n as u64;
    }
    Ok(hasher.finalize())
}

/// Fills `buf` as far as the file allows; the bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A shard opened for reading, through a memory map.
#[derive(Debug)]
pub struct Shard {
    map: Mmap,
    width: Width,
    docs: usize,
    tokens: usize,
    offsets_at: usize,
    checksum: String,
}

impl Shard {
    /// Opens the shard at `path` and checks it: its header, its size, its offsets, and
    /// that its largest id is inside a vocabulary of `vocab_size`. When `stamp` is the
    /// file's (the one recorded when it was written, and the file's size and time are
    /// unchanged), the recorded checksum stands for the body; otherwise the body is read
    /// whole, hashed and scanned for ids outside the vocabulary. The error names the
    /// shard.
    pub fn open(path: &Path, vocab_size: usize, stamp: Option<&Stamp>) -> Result<Self, StoreError> {
        let bad = |reason: String| StoreError::Shard { path: path.to_owned(), reason };
        let mut file = File::open(path).map_err(|e| StoreError::io(path, e))?;
        let mut head = [0u8; HEADER];
        let n = read_full(&mut file, &mut head).map_err(|e| StoreError::io(path, e))?;
        let header = Header::parse(&head[..n]).map_err(bad)?;
        let (offsets_at, size) = header.layout().ok_or_else(|| bad("its header's counts are impossible".into()))?;
        let len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
        if len != size {
            return Err(bad(format!("{len} bytes, but its header says {size} (truncated or overwritten?)")));
        }
        if header.width != Width::for_vocab(vocab_size) {
            return Err(bad(format!(
                "ids of {} bytes, not those of a vocabulary of {vocab_size}",
                header.width.bytes()
            )));
        }
        let checksum = hex(&header.checksum);
        let fresh = Stamp::of(path, checksum.clone())?;
        if stamp != Some(&fresh) {
            // Not the file that was written, or no record of it: read it whole.
            let mut max_id = 0;
            let ids_bytes = header.tokens * header.width.bytes() as u64;
            let body =
                hash_and_scan(&mut file, header.width, ids_bytes, &mut max_id).map_err(|e| StoreError::io(path, e))?;
            if header.checksum_of(body) != header.checksum {
                return Err(bad("its contents do not match its checksum".into()));
            }
            if max_id != header.max_id {
                return Err(bad(format!("its largest id is {max_id}, its header says {}", header.max_id)));
            }
        }
        if header.tokens > 0 && header.max_id as usize >= vocab_size {
            return Err(bad(format!("id {} is outside the vocabulary of {vocab_size}", header.max_id)));
        }
        // SAFETY: the map is read-only, and the store's files are written once under a
        // temporary name and renamed into place, never changed after: the bytes under
        // the map do not change while it lives (a user who edits a cached shard in place
        // meanwhile gets wrong ids, not undefined behaviour in safe code that reads
        // them as plain integers).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| StoreError::io(path, e))?;
        let shard = Self {
            map,
            width: header.width,
            docs: header.docs as usize,
            tokens: header.tokens as usize,
            offsets_at,
            checksum,
        };
        let offsets = shard.offsets();
        let ordered = offsets.first() == Some(&0)
            && offsets.last() == Some(&header.tokens)
            && offsets.windows(2).all(|w| w[0] <= w[1]);
        if !ordered {
            return Err(bad("its document offsets are out of order".into()));
        }
        Ok(shard)
    }

    fn offsets(&self) -> &[u64] {
        bytemuck::cast_slice(&self.map[self.offsets_at..self.offsets_at + 8 * (self.docs + 1)])
    }

    /// Its checksum (hex).
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// Number of documents.
    pub fn num_docs(&self) -> usize {
        self.docs
    }

    /// Number of tokens.
    pub fn num_tokens(&self) -> usize {
        self.tokens
    }

    /// The token range of document `i`.
    pub fn doc_range(&self, i: usize) -> Range<usize> {
        let o = self.offsets();
        o[i] as usize..o[i + 1] as usize
    }

    /// Drops the pages of the shard that this process has read from its resident
    /// memory; the page cache keeps them, and a later read maps them again.
    pub fn release_pages(&self) {
        // SAFETY: the map is a shared, read-only map of a file: dropping its pages only
        // makes later reads fault them in again from the file, with the same contents.
        // It is advice: should the system refuse it, the pages stay, and nothing else.
        #[cfg(unix)]
        let _ = unsafe { self.map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
    }

    /// The ids of token range `range`.
    pub fn ids(&self, range: Range<usize>) -> Ids<'_> {
        let bytes = &self.map[HEADER..HEADER + self.tokens * self.width.bytes()];
        match self.width {
            Width::U16 => Ids::U16(&bytemuck::cast_slice(bytes)[range]),
            Width::U32 => Ids::U32(&bytemuck::cast_slice(bytes)[range]),
        }
    }
}
