//! Media: the default chat image shipped in the binary, verification and
//! storage of uploaded images, and serving files under `/media/`.
//!
//! Uploaded files are stored under names we generate (`chat_img/<random>.png`),
//! never under a client's path, and only such names are ever served: a
//! request path is accepted only if it is `<known folder>/<safe name>`, so
//! traversal and listings are impossible by construction.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use super::StorageError;

/// The default chat image, written to `media/chat_img/default.jpg` at start.
pub const DEFAULT_IMAGE: &[u8] = include_bytes!("../assets/default.jpg");
/// Media path of the default chat image.
pub const DEFAULT_CHAT_IMG: &str = "chat_img/default.jpg";

/// Folders under the media directory that hold files.
pub const FOLDERS: [&str; 3] = ["chat_img", "avatars", "msg_img"];

/// The folder of images posted in messages.
pub const MESSAGE_IMAGES: &str = "msg_img";

/// How many lowercase hex digits the name of an upload has (see
/// [`Media::store`]); the sweep knows chatd's files by them.
const NAME_DIGITS: usize = 32;

/// An accepted image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
    Gif,
    Webp,
}

impl ImageKind {
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Gif => "gif",
            ImageKind::Webp => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Gif => "image/gif",
            ImageKind::Webp => "image/webp",
        }
    }

    fn from_extension(extension: &str) -> Option<ImageKind> {
        match extension {
            "jpg" | "jpeg" => Some(ImageKind::Jpeg),
            "png" => Some(ImageKind::Png),
            "gif" => Some(ImageKind::Gif),
            "webp" => Some(ImageKind::Webp),
            _ => None,
        }
    }
}

/// The most pixels an accepted image may have: Pillow's decompression-bomb
/// limit (twice its `MAX_IMAGE_PIXELS` of 89,478,485), above which Django's
/// `ImageField` refuses a file as not a valid image. A header claiming
/// 100000 x 100000 pixels fits in a few dozen bytes, and whoever decodes it
/// (a browser showing the chat) would have to allocate 40 GB.
pub const MAX_IMAGE_PIXELS: u64 = 2 * 89_478_485;

/// The format of `bytes` if they are a complete JPEG, PNG, GIF or WebP image.
///
/// The header is decoded (format and dimensions: neither may be 0, and
/// together at most [`MAX_IMAGE_PIXELS`]), and the file must also end the
/// way its format ends (JPEG's end-of-image marker, PNG's IEND chunk, GIF's
/// trailer, WebP's RIFF length), which catches truncated uploads without
/// decoding pixels.
pub fn verify_image(bytes: &[u8]) -> Option<ImageKind> {
    let kind = match imagesize::image_type(bytes).ok()? {
        imagesize::ImageType::Jpeg => ImageKind::Jpeg,
        imagesize::ImageType::Png => ImageKind::Png,
        imagesize::ImageType::Gif => ImageKind::Gif,
        imagesize::ImageType::Webp => ImageKind::Webp,
        _ => return None,
    };
    let mut size = imagesize::blob_size(bytes).ok()?;
    if kind == ImageKind::Webp && bytes.get(12..16) == Some(b"VP8 ") {
        // A lossy WebP's sizes are 14 bits; the top 2 of each 16 are a
        // scaling hint decoders ignore, which imagesize reads as size.
        size.width &= 0x3FFF;
        size.height &= 0x3FFF;
    }
    let pixels = (size.width as u64).saturating_mul(size.height as u64);
    if size.width == 0 || size.height == 0 || pixels > MAX_IMAGE_PIXELS {
        return None;
    }
    let complete = match kind {
        ImageKind::Jpeg => {
            // Some encoders pad after the end-of-image marker.
            let end = bytes
                .iter()
                .rposition(|&b| !matches!(b, 0 | b'\r' | b'\n' | b' '))?;
            end >= 1 && bytes[end - 1] == 0xFF && bytes[end] == 0xD9
        }
        ImageKind::Png => {
            bytes.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82])
        }
        ImageKind::Gif => bytes.last() == Some(&0x3B),
        ImageKind::Webp => {
            let declared = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
            bytes.len() >= 8 && declared + 8 <= bytes.len() && declared >= 4
        }
    };
    complete.then_some(kind)
}

/// The media folder and the files in it.
#[derive(Debug, Clone)]
pub struct Media {
    root: PathBuf,
}

impl Media {
    /// Creates the folders and writes the default image if it is missing.
    pub fn open(root: PathBuf) -> anyhow::Result<Media> {
        for folder in FOLDERS {
            std::fs::create_dir_all(root.join(folder))
                .with_context(|| format!("cannot create {}", root.join(folder).display()))?;
        }
        let default = root.join(DEFAULT_CHAT_IMG);
        if !default.exists() {
            write_atomically(&default, DEFAULT_IMAGE)?;
        }
        Ok(Media { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes the stray files (see [`find_strays`]); run at start, before
    /// any upload can be in flight. Returns what it removed.
    pub fn sweep(&self, named: &HashSet<String>) -> anyhow::Result<Strays> {
        let strays = find_strays(&self.root, named)
            .with_context(|| format!("cannot read {}", self.root.display()))?;
        for path in strays.orphans.iter().chain(&strays.partial) {
            std::fs::remove_file(self.root.join(path))
                .with_context(|| format!("cannot remove {}", self.root.join(path).display()))?;
        }
        Ok(strays)
    }

    /// Stores a verified image under `folder` with a fresh random name and
    /// returns its media path (e.g. `chat_img/5f0c....png`).
    pub fn store(
        &self,
        folder: &'static str,
        kind: ImageKind,
        bytes: &[u8],
    ) -> Result<String, StorageError> {
        let mut random = [0u8; NAME_DIGITS / 2];
        getrandom::fill(&mut random)
            .map_err(|e| StorageError::other(anyhow::anyhow!("no randomness: {e}")))?;
        let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let media_path = format!("{folder}/{name}.{}", kind.extension());
        write_atomically(&self.root.join(&media_path), bytes)?;
        Ok(media_path)
    }

    /// Stores an upload and its row as one. The file is written first, so
    /// no row ever points at a missing file; `write` records its media path
    /// (`None` without an upload) and returns its result with the path of a
    /// file it replaced. If `write` fails the new file is removed again;
    /// once its row is committed the replaced one is (see
    /// `write_lane::after_commit`).
    pub fn store_with_row<T, E: From<StorageError>>(
        &self,
        folder: &'static str,
        image: Option<(ImageKind, bytes::Bytes)>,
        write: impl FnOnce(Option<&str>) -> Result<(T, Option<String>), E>,
    ) -> Result<T, E> {
        let stored = match image {
            Some((kind, bytes)) => Some(self.store(folder, kind, &bytes)?),
            None => None,
        };
        match write(stored.as_deref()) {
            Ok((value, replaced)) => {
                let media = self.clone();
                super::write_lane::after_commit(move |committed| {
                    if committed {
                        if let Some(old) = replaced.filter(|old| Some(old) != stored.as_ref()) {
                            media.remove(&old);
                        }
                    } else if let Some(new) = &stored {
                        media.remove(new);
                    }
                });
                Ok(value)
            }
            Err(error) => {
                if let Some(new) = &stored {
                    self.remove(new);
                }
                Err(error)
            }
        }
    }

    /// Removes a stored file; the default image is never removed.
    pub fn remove(&self, media_path: &str) {
        if media_path == DEFAULT_CHAT_IMG || resolve(media_path).is_none() {
            return;
        }
        if let Err(error) = std::fs::remove_file(self.root.join(media_path)) {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(%error, media_path, "could not remove a media file");
            }
        }
    }

    /// The file on disk for a request path under `/media/`, if it may be served.
    pub fn file_for(&self, request_path: &str) -> Option<(PathBuf, ImageKind)> {
        let kind = resolve(request_path)?;
        Some((self.root.join(request_path), kind))
    }
}

/// Every file in the media folder the database names: chat images and
/// avatars.
pub fn named_files(conn: &rusqlite::Connection) -> rusqlite::Result<HashSet<String>> {
    conn.prepare(
        "SELECT img FROM chats WHERE img IS NOT NULL \
         UNION SELECT avatar FROM users WHERE avatar IS NOT NULL \
         UNION SELECT image FROM messages WHERE image IS NOT NULL",
    )?
    .query_map([], |row| row.get(0))?
    .collect()
}

/// How many files the media folders under `root` hold besides the default
/// image chatd writes itself: uploads, on any instance that had some.
pub fn uploads(root: &Path) -> std::io::Result<usize> {
    let own = |f: &String| f == DEFAULT_CHAT_IMG || is_default_partial(f);
    Ok(files(root)?.into_iter().filter(|f| !own(f)).count())
}

/// Files in the media folders that should not be there: uploads no row
/// names (a crash between storing a file and committing its row leaves
/// one) and half-written `.part` files. Media paths, sorted.
#[derive(Debug, Default)]
pub struct Strays {
    pub orphans: Vec<String>,
    pub partial: Vec<String>,
}

impl Strays {
    pub fn is_empty(&self) -> bool {
        self.orphans.is_empty() && self.partial.is_empty()
    }
}

/// The stray files under the media folder `root`, given the files the
/// database names. Only names chatd generates are considered (see
/// `generated`): a file someone else put there is left alone, whatever
/// its name looks like.
pub fn find_strays(root: &Path, named: &HashSet<String>) -> std::io::Result<Strays> {
    let mut strays = Strays::default();
    for media_path in files(root)? {
        match generated(&media_path) {
            Some(Generated::Partial) => strays.partial.push(media_path),
            Some(Generated::Upload) if !named.contains(&media_path) => {
                strays.orphans.push(media_path)
            }
            Some(Generated::Upload) | None => {}
        }
    }
    Ok(strays)
}

/// The media paths of the files in the media folders under `root`, sorted.
fn files(root: &Path) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    for folder in FOLDERS {
        let entries = match std::fs::read_dir(root.join(folder)) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                files.push(format!("{folder}/{}", entry.file_name().to_string_lossy()));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// What chatd made a file as, known by its name.
enum Generated {
    /// An upload: [`NAME_DIGITS`] lowercase hex digits and the extension
    /// of its format, as [`Media::store`] names it (`--seed demo` too).
    Upload,
    /// An upload, or the default image, still being written (`.part`, see
    /// [`write_atomically`]).
    Partial,
}

/// What chatd made the file at `media_path` (in one of [`FOLDERS`]) as;
/// `None` for a name chatd never gives (`chat_img/mine.png`,
/// `avatars/me.jpg`) and for the default image.
fn generated(media_path: &str) -> Option<Generated> {
    let (stem, extension) = media_path.split_once('/')?.1.rsplit_once('.')?;
    let random =
        stem.len() == NAME_DIGITS && stem.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if extension == "part" {
        (random || is_default_partial(media_path)).then_some(Generated::Partial)
    } else {
        // The extension chatd writes for a format: `jpg`, never `jpeg`.
        let written =
            ImageKind::from_extension(extension).is_some_and(|kind| kind.extension() == extension);
        (random && written).then_some(Generated::Upload)
    }
}

/// True for the default image while [`Media::open`] writes it.
fn is_default_partial(media_path: &str) -> bool {
    Path::new(media_path) == Path::new(DEFAULT_CHAT_IMG).with_extension("part")
}

/// Accepts only `<folder>/<name>.<image extension>` where the name is made
/// of ASCII letters, digits, `-` and `_`.
fn resolve(media_path: &str) -> Option<ImageKind> {
    let (folder, file) = media_path.split_once('/')?;
    if !FOLDERS.contains(&folder) {
        return None;
    }
    let (stem, extension) = file.rsplit_once('.')?;
    let safe = !stem.is_empty()
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !safe {
        return None;
    }
    ImageKind::from_extension(extension)
}

/// Writes `bytes` to a temporary file next to `path`, syncs it and renames
/// it into place, so a crash never leaves a half-written image behind.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("part");
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A validator for a file's current version: size and modification time.
pub fn etag(len: u64, modified: SystemTime) -> String {
    let nanos = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("\"{len:x}-{nanos:x}\"")
}

#[cfg(test)]
mod tests;
