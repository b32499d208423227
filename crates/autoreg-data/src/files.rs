//! Data files: the file named, or the files of a folder with the modality's extensions.

use crate::error::DataError;
use std::path::{Path, PathBuf};

/// The data files at `path`: the file itself, or every regular file under the folder
/// whose extension is one of `extensions` (hidden entries skipped), in sorted order.
/// Symbolic links are followed; a file or folder reached twice (a link loop, a second
/// link) is listed once, and links that lead nowhere, loops and special files (FIFOs,
/// devices) are skipped with a warning.
pub fn list_files(path: &Path, extensions: &[String]) -> Result<Vec<PathBuf>, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !meta.is_dir() {
        return Err(DataError::NotFileOrFolder { path: path.to_path_buf() });
    }
    let wanted = |p: &Path| {
        p.extension().is_some_and(|e| extensions.iter().any(|x| e.to_string_lossy().eq_ignore_ascii_case(x)))
    };
    let canonical = |p: &Path| std::fs::canonicalize(p).map_err(|e| DataError::io(p, e));
    let mut files = Vec::new();
    let mut seen_folders = std::collections::HashSet::from([canonical(path)?]);
    let mut folders = vec![path.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).map_err(|e| DataError::io(&folder, e))? {
            let entry = entry.map_err(|e| DataError::io(&folder, e))?;
            let p = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            // Follows links; a loop of links or a dangling one fails here.
            let meta = match std::fs::metadata(&p) {
                Ok(meta) => meta,
                Err(e) => {
                    log::warn!("skipped {}: {e}", p.display());
                    continue;
                }
            };
            if meta.is_dir() {
                if seen_folders.insert(canonical(&p)?) {
                    folders.push(p);
                } else {
                    log::warn!("skipped {}: a folder already listed (a link loop or a second link)", p.display());
                }
            } else if wanted(&p) {
                if meta.is_file() {
                    files.push(p);
                } else {
                    log::warn!("skipped {}: not a regular file (a FIFO, socket or device)", p.display());
                }
            }
        }
    }
    if files.is_empty() {
        return Err(DataError::NoFiles { path: path.to_path_buf(), extensions: extensions.to_vec() });
    }
    files.sort();
    // One entry per file: the first path, in sorted order, of each file reached twice.
    let mut seen = std::collections::HashMap::new();
    let mut unique = Vec::with_capacity(files.len());
    for f in files {
        match seen.entry(canonical(&f)?) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(f.clone());
                unique.push(f);
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                log::warn!("skipped {}: the same file as {}", f.display(), o.get().display());
            }
        }
    }
    Ok(unique)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn lists_matching_files_recursively_in_order() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.txt", b"b");
        write(dir.path(), "sub/a.TXT", b"a");
        write(dir.path(), "notes.md", b"n");
        write(dir.path(), ".hidden.txt", b"h");
        let files = list_files(dir.path(), &["txt".to_owned()]).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.strip_prefix(dir.path()).unwrap().to_owned()).collect();
        assert_eq!(names, [PathBuf::from("b.txt"), PathBuf::from("sub/a.TXT")]);
        let err = list_files(dir.path(), &["mid".to_owned()]).unwrap_err().to_string();
        assert!(err.contains("no .mid files in"), "{err}");
    }

    #[test]
    fn link_loops_special_files_and_second_links_are_listed_once_or_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "a.txt", b"a");
        write(d, "sub/b.txt", b"b");
        std::os::unix::fs::symlink("..", d.join("sub/loop")).unwrap(); // a folder loop
        std::os::unix::fs::symlink("sub", d.join("alias")).unwrap(); // a second link to sub/
        std::os::unix::fs::symlink("a.txt", d.join("c.txt")).unwrap(); // the same file again
        std::os::unix::fs::symlink("self.txt", d.join("self.txt")).unwrap(); // a link loop
        std::os::unix::fs::symlink("gone.txt", d.join("dangling.txt")).unwrap();
        let fifo = d.join("pipe.txt");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let files = list_files(d, &["txt".to_owned()]).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.strip_prefix(d).unwrap().to_owned()).collect();
        assert_eq!(names, [PathBuf::from("a.txt"), PathBuf::from("alias/b.txt")]);
        // A data path that is a FIFO is refused, not read.
        let err = list_files(&fifo, &["txt".to_owned()]).unwrap_err().to_string();
        assert!(err.contains("pipe.txt is neither a regular file nor a folder"), "{err}");
    }
}
