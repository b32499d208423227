//! A store on disk: a folder of shards, `00000.tokens`, `00001.tokens`, ..., each with
//! its caller's record `00000.json` (what it holds: the files it came from), and
//! `store.json`, written last, with every shard's [`Stamp`].
//!
//! Each shard is renamed into place whole, after its record: a build that is killed
//! leaves whole shards and at most one record without its shard, and
//! [`StoreBuilder::resume`] carries on after the last whole shard.

use super::{Shard, ShardWriter, Stamp, StoreError, TokenStore};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::path::{Path, PathBuf};

const COMPLETE: &str = "store.json";
const LOCK: &str = ".lock";

/// Holds `dir` (made if missing) for this process until dropped: another process that
/// asks waits here (and is told so), then finds what this one built. The lock is
/// advisory: it orders the processes that look for a store and build it if missing.
pub fn lock_folder(dir: &Path) -> Result<File, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    let path = dir.join(LOCK);
    let file =
        File::options().create(true).truncate(false).write(true).open(&path).map_err(|e| StoreError::io(&path, e))?;
    if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
        log::warn!("waiting for another process that is writing tokens in {}", dir.display());
        file.lock().map_err(|e| StoreError::io(&path, e))?;
    }
    Ok(file)
}

fn shard_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("{i:05}.tokens"))
}

fn record_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("{i:05}.json"))
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Record { path: path.to_owned(), reason: e.to_string() })
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), StoreError> {
    let json =
        serde_json::to_vec(value).map_err(|e| StoreError::Record { path: path.to_owned(), reason: e.to_string() })?;
    autoreg_tokens::write_atomic(path, &json)
        .map_err(|e| StoreError::Record { path: path.to_owned(), reason: e.to_string() })
}

/// The complete store in `dir`, with its shards' records, for ids of a vocabulary of
/// `vocab_size`: `None` when the folder holds no complete store. Each shard is checked
/// as [`Shard::open`] says, against the stamp recorded when it was written.
pub fn open_folder<R: DeserializeOwned>(
    dir: &Path,
    vocab_size: usize,
) -> Result<Option<(TokenStore, Vec<R>)>, StoreError> {
    let complete = dir.join(COMPLETE);
    if !complete.is_file() {
        return Ok(None);
    }
    let stamps: Vec<Stamp> = read_json(&complete)?;
    let mut shards = Vec::with_capacity(stamps.len());
    let mut records = Vec::with_capacity(stamps.len());
    for (i, stamp) in stamps.iter().enumerate() {
        shards.push(Shard::open(&shard_path(dir, i), vocab_size, Some(stamp))?);
        records.push(read_json(&record_path(dir, i))?);
    }
    Ok(Some((TokenStore::from_shards(shards), records)))
}

/// Builds a store in a folder, shard by shard; the caller says when a shard ends and
/// what its record is. The caller holds the folder ([`lock_folder`]) meanwhile.
pub struct StoreBuilder {
    dir: PathBuf,
    vocab_size: usize,
    stamps: Vec<Stamp>,
    current: Option<ShardWriter>,
}

impl StoreBuilder {
    /// A builder in `dir` (made if missing) for ids of a vocabulary of `vocab_size`,
    /// after the whole shards a previous build left there, which are checked whole; a
    /// shard that fails its check is said and built again, with all after it. Returns
    /// the records of the shards kept.
    pub fn resume<R: DeserializeOwned>(dir: &Path, vocab_size: usize) -> Result<(Self, Vec<R>), StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let _ = std::fs::remove_file(dir.join(COMPLETE));
        let (mut stamps, mut records) = (Vec::new(), Vec::new());
        for i in 0.. {
            let (shard, record) = (shard_path(dir, i), record_path(dir, i));
            if !shard.is_file() {
                break;
            }
            let kept = Shard::open(&shard, vocab_size, None)
                .and_then(|s| Ok((s, read_json::<R>(&record)?)))
                .and_then(|(s, r)| Ok((Stamp::of(&shard, s.checksum().to_owned())?, r)));
            match kept {
                Ok((stamp, r)) => {
                    stamps.push(stamp);
                    records.push(r);
                }
                Err(e) => {
                    log::warn!("{e}: building it again");
                    break;
                }
            }
        }
        // Whatever lies after the shards kept is from a build that did not finish.
        for entry in std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let index = name.split('.').next().and_then(|n| n.parse::<usize>().ok());
            let stale = index.is_some_and(|i| i >= stamps.len()) || name.starts_with('.') && name != LOCK;
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok((Self { dir: dir.to_owned(), vocab_size, stamps, current: None }, records))
    }

    fn writer(&mut self) -> Result<&mut ShardWriter, StoreError> {
        let writer = match self.current.take() {
            Some(w) => w,
            None => ShardWriter::create(&shard_path(&self.dir, self.stamps.len()), self.vocab_size)?,
        };
        Ok(self.current.insert(writer))
    }

    /// Appends ids to the open document.
    pub fn extend(&mut self, ids: &[u32]) -> Result<(), StoreError> {
        self.writer()?.extend(ids)
    }

    /// Closes the open document.
    pub fn end_doc(&mut self) -> Result<(), StoreError> {
        self.writer()?.end_doc();
        Ok(())
    }

    /// Appends one whole document.
    pub fn push(&mut self, doc: &[u32]) -> Result<(), StoreError> {
        self.extend(doc)?;
        self.end_doc()
    }

    /// Drops the open document's ids.
    pub fn abort_doc(&mut self) -> Result<(), StoreError> {
        match &mut self.current {
            Some(w) => w.abort_doc(),
            None => Ok(()),
        }
    }

    /// Tokens in the shard being written.
    pub fn shard_tokens(&self) -> u64 {
        self.current.as_ref().map_or(0, ShardWriter::tokens)
    }

    /// Ends the shard being written (an empty one if none is), with its record.
    pub fn end_shard(&mut self, record: &impl Serialize) -> Result<(), StoreError> {
        let i = self.stamps.len();
        write_json(&record_path(&self.dir, i), record)?;
        let writer = match self.current.take() {
            Some(w) => w,
            None => ShardWriter::create(&shard_path(&self.dir, i), self.vocab_size)?,
        };
        self.stamps.push(writer.finish()?);
        Ok(())
    }

    /// Ends the build (the shard being written, if any, with `record`), marks the
    /// store complete, and opens it.
    pub fn finish<R: Serialize + DeserializeOwned>(
        mut self,
        record: Option<&R>,
    ) -> Result<(TokenStore, Vec<R>), StoreError> {
        if let Some(record) = record {
            self.end_shard(record)?;
        }
        write_json(&self.dir.join(COMPLETE), &self.stamps)?;
        open_folder(&self.dir, self.vocab_size)?.ok_or_else(|| StoreError::Record {
            path: self.dir.join(COMPLETE),
            reason: "written, but not found".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A complete store in `dir` of 3 shards of 2 documents, for a vocabulary of 300.
    fn build(dir: &Path) -> TokenStore {
        let (mut builder, kept) = StoreBuilder::resume::<String>(dir, 300).unwrap();
        assert!(kept.is_empty());
        for shard in 0..3u32 {
            builder.push(&[shard, 1, 2]).unwrap();
            builder.push(&[299; 5]).unwrap();
            if shard < 2 {
                builder.end_shard(&format!("shard {shard}")).unwrap();
            }
        }
        let (store, records) = builder.finish(Some(&"shard 2".to_owned())).unwrap();
        assert_eq!(records, ["shard 0", "shard 1", "shard 2"]);
        store
    }

    /// The error of opening the store in `dir` after `change` to its second shard.
    fn broken(change: impl Fn(&mut Vec<u8>)) -> String {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path());
        let shard = shard_path(dir.path(), 1);
        let mut bytes = std::fs::read(&shard).unwrap();
        change(&mut bytes);
        std::fs::write(&shard, &bytes).unwrap();
        let err = open_folder::<String>(dir.path(), 300).unwrap_err().to_string();
        assert!(err.contains(&shard.display().to_string()), "the shard is named: {err}");
        err
    }

    #[test]
    fn a_store_round_trips_and_keeps_u16_ids() {
        let dir = tempfile::tempdir().unwrap();
        let built = build(dir.path());
        let (store, records) = open_folder::<String>(dir.path(), 300).unwrap().unwrap();
        assert_eq!(store, built);
        assert_eq!(records.len(), 3);
        assert_eq!((store.num_docs(), store.num_tokens()), (6, 24));
        assert_eq!(&*store.doc(2), &[1, 1, 2]);
        assert!(matches!(store.ids(3), crate::store::Ids::U16(_)));
        // 2 bytes an id, a header, the offsets.
        let size = std::fs::metadata(shard_path(dir.path(), 0)).unwrap().len();
        assert_eq!(size, 128 + 16 + 3 * 8);
        // A vocabulary past u16 takes u32 ids, and a store of one width is not read as
        // the other.
        let err = open_folder::<String>(dir.path(), 70_000).unwrap_err().to_string();
        assert!(err.contains("ids of 2 bytes"), "{err}");
    }

    #[test]
    fn a_truncated_or_edited_shard_or_an_id_beyond_the_vocabulary_is_caught_naming_the_shard() {
        let truncated = broken(|b| b.truncate(b.len() - 1));
        assert!(truncated.contains("truncated"), "{truncated}");
        // The token count edited.
        let header = broken(|b| b[24] += 1);
        assert!(header.contains("header says"), "{header}");
        // The largest id edited down, then an id past the vocabulary with the header
        // saying so: the checksum, then the vocabulary.
        let max_id = broken(|b| b[32] = 7);
        assert!(max_id.contains("checksum"), "{max_id}");
        let id = broken(|b| {
            b[128] = 0xff;
            b[129] = 0x01;
        });
        assert!(id.contains("checksum"), "{id}");
        // An id beyond the vocabulary in a shard whose checksum and header agree with
        // it: made by a writer of a larger vocabulary.
        let dir = tempfile::tempdir().unwrap();
        let (mut builder, _) = StoreBuilder::resume::<String>(dir.path(), 600).unwrap();
        builder.push(&[1, 500]).unwrap();
        builder.finish(Some(&String::new())).unwrap();
        let err = open_folder::<String>(dir.path(), 300).unwrap_err().to_string();
        assert!(err.contains("00000.tokens") && err.contains("id 500 is outside the vocabulary of 300"), "{err}");
    }

    #[test]
    fn a_build_resumes_after_its_whole_shards() {
        let dir = tempfile::tempdir().unwrap();
        let whole = build(dir.path());
        // As a kill leaves it: no store.json, a record without its shard, a temporary.
        std::fs::remove_file(dir.path().join(COMPLETE)).unwrap();
        std::fs::remove_file(shard_path(dir.path(), 2)).unwrap();
        std::fs::write(dir.path().join(".00002.tokens.tmp-1"), b"half").unwrap();
        assert!(open_folder::<String>(dir.path(), 300).unwrap().is_none());
        let (mut builder, kept) = StoreBuilder::resume::<String>(dir.path(), 300).unwrap();
        assert_eq!(kept, ["shard 0", "shard 1"]);
        assert!(!dir.path().join(".00002.tokens.tmp-1").exists());
        builder.push(&[2, 1, 2]).unwrap();
        builder.push(&[299; 5]).unwrap();
        let (store, _) = builder.finish(Some(&"shard 2".to_owned())).unwrap();
        assert_eq!(store, whole);
    }
}
