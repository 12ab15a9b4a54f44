//! What both targets share: the fuzzer's bytes as a file, and one runtime.

use std::io::Write;
use std::sync::OnceLock;

/// A runtime for every input (building one per input would dominate the run time).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
    })
}

/// `data` in a fresh temporary file (removed when the handle drops).
pub fn file_of(data: &[u8]) -> tempfile_lite::TempFile {
    let file = tempfile_lite::TempFile::new();
    std::fs::File::create(&file.path)
        .and_then(|mut f| f.write_all(data))
        .expect("write the input file");
    file
}

/// A temporary file without a dependency: a unique path under the system temp dir.
pub mod tempfile_lite {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};

    pub struct TempFile {
        pub path: PathBuf,
    }

    impl TempFile {
        pub fn new() -> Self {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "sweet-async-fuzz-{}-{n}",
                std::process::id()
            ));
            TempFile { path }
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
