//! A SQLite VFS that writes each commit's WAL frames in one `pwrite` instead of two per page.
//!
//! SQLite appends a commit to the write-ahead log frame by frame: a 24-byte header and a page
//! each, two `pwrite`s per dirty page, and then (with `synchronous=FULL`) one `fsync`. This VFS
//! wraps the default one and, for WAL files only, gathers contiguous writes in memory and writes
//! them out as one when SQLite next syncs, reads, truncates, sizes or closes the file, or when
//! 128 KiB are pending. Every other file (the database, journals, temporary files) goes straight
//! through, a write longer than 128 KiB in pieces. Registering it also keeps statement journals
//! in memory up to 1 MiB (`STATEMENT_JOURNAL_SPILL`), a setting SQLite takes only before it starts.
//!
//! **Why it is sound, and its one condition.** In WAL mode a commit becomes visible to other
//! connections only when the writer publishes it in the shared WAL index, and with
//! `synchronous=FULL` (or `EXTRA`) SQLite syncs the WAL *before* that: everything pending is
//! written at the sync, so by the time any reader can look for a frame it is in the file, and on
//! disk, exactly as without this VFS. A crash before the sync loses only frames of a commit that
//! was never published (nor answered); recovery ignores them as it ignores a torn write. Under
//! `synchronous=NORMAL` a commit is published without a sync, so readers could look for frames
//! still pending here: **use this VFS only with `synchronous=FULL` or `EXTRA`.**
//!
//! **Deferred syncs.** Inside [`deferring_wal_sync`], a WAL sync made on the calling thread
//! writes what is pending and returns without `fsync`: the commit is published with its frames
//! in the file (readers find them, as above) but not yet on disk. The caller then owes the sync:
//! it must `fsync` the WAL itself before it treats the commit as durable (complyd's writer
//! answers a group only after its syncer thread has). Syncs outside it, on any other thread or
//! connection (a checkpoint, which must have the log on disk before it copies pages into the
//! database), are made as always. A crash before the owed sync can lose only commits nobody was
//! told were durable, and leaves the database as SQLite's `synchronous=NORMAL` does: consistent.
//!
//! This is the workspace's only `unsafe` code (FFI with SQLite's C interface); each block says
//! why it is sound.

use rusqlite::ffi;
use std::cell::Cell;
use std::ffi::{c_int, c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::OnceLock;

/// Starts writing `file`'s dirty pages back to disk and returns without waiting for them or
/// flushing the disk's cache (Linux's `sync_file_range` with `SYNC_FILE_RANGE_WRITE`), so that a
/// later `fsync` finds them written. It makes nothing durable. Elsewhere it does nothing.
pub fn start_writeback(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor stays open while `file` is borrowed; offset 0 with length 0
        // names the whole file, and the call reads and writes no memory of this process.
        let rc =
            unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
    Ok(())
}

/// The name connections open this VFS by (`Connection::open_with_flags_and_vfs`).
pub const NAME: &str = "complyd-wal-buffer";
const NAME_C: &CStr = c"complyd-wal-buffer";

/// Pending bytes past which the buffer is written before it grows further: the most the unix VFS
/// writes in one call (it masks a longer length to 17 bits, and a short write is "disk full").
const CAPACITY: usize = 0x1ffff;

/// The VFS this one wraps (the default at registration); set once, before any file is opened.
static PARENT: AtomicPtr<ffi::sqlite3_vfs> = AtomicPtr::new(ptr::null_mut());
static REGISTERED: OnceLock<c_int> = OnceLock::new();
static WAL_WRITES_RECEIVED: AtomicU64 = AtomicU64::new(0);
static WAL_WRITES_ISSUED: AtomicU64 = AtomicU64::new(0);
static WAL_SYNCS_DEFERRED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set while this thread runs [`deferring_wal_sync`].
    static DEFER_WAL_SYNC: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (a commit) with the WAL syncs this thread makes deferred to the caller: see the
/// crate's documentation. Returns what `f` returned; the deferral ends with `f`, even if it
/// panics.
pub fn deferring_wal_sync<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEFER_WAL_SYNC.with(|d| d.set(self.0));
        }
    }
    let _restore = Restore(DEFER_WAL_SYNC.with(|d| d.replace(true)));
    f()
}

/// WAL syncs skipped inside [`deferring_wal_sync`] since the start of the process.
pub fn wal_syncs_deferred() -> u64 {
    WAL_SYNCS_DEFERRED.load(Ordering::Relaxed)
}

/// Registers the VFS (once per process; later calls return the first outcome). Not the default:
/// only connections that name it use it.
pub fn register() -> Result<&'static str, rusqlite::Error> {
    let rc = *REGISTERED.get_or_init(register_once);
    if rc == ffi::SQLITE_OK {
        Ok(NAME)
    } else {
        Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(rc),
            Some(format!("registering the {NAME} VFS failed")),
        ))
    }
}

/// Writes of WAL files SQLite asked for, and writes this VFS made of them, since the start of
/// the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalWrites {
    pub received: u64,
    pub issued: u64,
}

pub fn wal_writes() -> WalWrites {
    WalWrites {
        received: WAL_WRITES_RECEIVED.load(Ordering::Relaxed),
        issued: WAL_WRITES_ISSUED.load(Ordering::Relaxed),
    }
}

/// The header of a database's WAL index as one of its connections sees it now. Every commit
/// (by any connection or process on the file) and every restart of the log change it, so two
/// equal readings mean nothing was committed between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalIndexHeader([u32; WAL_INDEX_HEADER_WORDS]);

impl WalIndexHeader {
    /// SQLite's change counter (`iChange`): one more at every commit, by any connection or
    /// process on the file; a restart of the log leaves it as it is.
    pub fn commits(&self) -> u32 {
        self.0[2]
    }
}

/// The header's size (SQLite's `WalIndexHdr`: change counter, last frame, page count, salts
/// and checksums), in 32-bit words.
const WAL_INDEX_HEADER_WORDS: usize = 12;

/// Reads the WAL index header of `conn`'s main database, which `conn` opened with this VFS.
/// `None` until `conn` has read in WAL mode (the index is mapped at its first read), and for a
/// connection that uses another VFS.
///
/// SQLite writes the header with plain stores under its own protocol; this reads it word by
/// word, so a reading taken while a commit is being published may mix words from before and
/// after it. Such a mix differs from the earlier reading unless every word the commit changed was
/// read before it changed: then it is a reading from before the commit, which is what it is
/// compared as.
pub fn wal_index_header(conn: &rusqlite::Connection) -> Option<WalIndexHeader> {
    let mut file: *mut ffi::sqlite3_file = ptr::null_mut();
    // SAFETY: `conn` is open and borrowed for the call, so its handle is valid and no other
    // thread uses it meanwhile. FILE_POINTER writes the main database's open file (or null)
    // to `file`; SQLite answers it itself. The file is ours when its methods are ours, and its
    // `wal_index` is set only while the parent keeps that region mapped (`x_shm_map`,
    // `x_shm_unmap`), which it does while `conn` is open. The region is at least a page,
    // page-aligned, so the header's words are in bounds and aligned; volatile reads keep each
    // word a single load of memory that other threads and processes write.
    unsafe {
        let rc = ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&raw mut file).cast(),
        );
        if rc != ffi::SQLITE_OK || file.is_null() || !ptr::eq((*file).pMethods, &METHODS) {
            return None;
        }
        let index = (*file.cast::<File>()).wal_index;
        if index.is_null() {
            return None;
        }
        let mut words = [0u32; WAL_INDEX_HEADER_WORDS];
        for (i, word) in words.iter_mut().enumerate() {
            *word = ptr::read_volatile(index.add(i));
        }
        std::sync::atomic::fence(Ordering::Acquire);
        Some(WalIndexHeader(words))
    }
}

fn register_once() -> c_int {
    keep_statement_journals_in_memory();
    // SAFETY: `sqlite3_vfs_find(NULL)` initializes SQLite if needed and returns the default VFS,
    // which SQLite keeps for the life of the process (we never unregister it).
    let parent = unsafe { ffi::sqlite3_vfs_find(ptr::null()) };
    if parent.is_null() {
        return ffi::SQLITE_ERROR;
    }
    PARENT.store(parent, Ordering::Release);
    // SAFETY: `parent` is a valid VFS (above). Our copy keeps its methods and its `pAppData`,
    // so they behave as the parent's when SQLite calls them with our pointer; only the file
    // size, the name and `xOpen` differ. The copy is leaked: SQLite keeps the pointer for good.
    unsafe {
        let mut vfs = *parent;
        vfs.szOsFile = (INNER_OFFSET + (*parent).szOsFile as usize) as c_int;
        vfs.zName = NAME_C.as_ptr();
        vfs.pNext = ptr::null_mut();
        vfs.xOpen = Some(x_open);
        ffi::sqlite3_vfs_register(Box::into_raw(Box::new(vfs)), 0)
    }
}

/// Statement journals held in memory up to this size before SQLite moves them to a temporary
/// file (its default is 64 KiB). Every write of a job under a savepoint copies each page it is
/// first to change into one; a check-in changes ~100 pages, and the file SQLite spilled them to
/// was written with a `pwrite` per page and made anew per transaction. SQLite holds the journal
/// as one chunk of this size, so truncating it stays cheap; a larger journal still spills.
const STATEMENT_JOURNAL_SPILL: c_int = 1 << 20;

/// Sets the statement journals' spill size, which SQLite reads only before it initializes (the
/// registration below initializes it). Called later, it changes nothing and SQLite keeps 64 KiB.
fn keep_statement_journals_in_memory() {
    // SAFETY: this option takes one `int`, passed as such; before initialization SQLite only
    // stores it, after it the call returns SQLITE_MISUSE and changes nothing.
    unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_STMTJRNL_SPILL, STATEMENT_JOURNAL_SPILL) };
}

/// Our file. SQLite allocates `szOsFile` bytes for it; the parent's file follows at
/// `INNER_OFFSET`, in the same allocation.
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// A WAL file's pending writes; null for every other file.
    pending: *mut Pending,
    /// A database file's WAL index (the first region of its shared memory) while it is mapped;
    /// null before the first map, after the unmap, and for every other file.
    wal_index: *const u32,
}

/// Contiguous bytes waiting to be written at `offset`.
struct Pending {
    offset: i64,
    bytes: Vec<u8>,
}

/// Where the parent's file starts: after ours, 8-byte aligned as SQLite's allocations are.
const INNER_OFFSET: usize = std::mem::size_of::<File>().next_multiple_of(8);

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let parent = PARENT.load(Ordering::Acquire);
    let this = file.cast::<File>();
    // SAFETY: SQLite hands us `szOsFile` writable bytes at `file`, 8-byte aligned: room for a
    // `File` and then the parent's file at INNER_OFFSET. `parent` was set before registration.
    unsafe {
        let inner = file
            .cast::<u8>()
            .add(INNER_OFFSET)
            .cast::<ffi::sqlite3_file>();
        ptr::write(
            this,
            File {
                base: ffi::sqlite3_file {
                    pMethods: ptr::null(),
                },
                inner,
                pending: ptr::null_mut(),
                wal_index: ptr::null(),
            },
        );
        let Some(open) = (*parent).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        let rc = open(parent, name, inner, flags, out_flags);
        // SQLite calls xClose whenever pMethods is set, even after a failed open: set ours
        // exactly when the parent set its own, so the parent's file is closed through us.
        if !(*inner).pMethods.is_null() {
            (*this).base.pMethods = &METHODS;
        }
        if rc == ffi::SQLITE_OK && flags & ffi::SQLITE_OPEN_WAL != 0 {
            (*this).pending = Box::into_raw(Box::new(Pending {
                offset: 0,
                bytes: Vec::new(),
            }));
        }
        rc
    }
}

/// The parent's file and its methods.
///
/// # Safety
/// `file` is one of ours that opened (its pMethods is ours, so the parent's are set).
unsafe fn parent_of(
    file: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    // SAFETY: as the caller promises; the parent's method table is static in SQLite.
    unsafe {
        let inner = (*file.cast::<File>()).inner;
        (inner, &*(*inner).pMethods)
    }
}

/// Writes `amount` bytes at `offset` with the parent, in pieces of at most CAPACITY bytes (the
/// unix VFS cuts a longer length to 17 bits and reports the short write as a full disk; SQLite
/// itself writes more at once when it moves a statement journal of STATEMENT_JOURNAL_SPILL bytes
/// from memory to its file).
///
/// # Safety
/// `file` is one of our open files and `data` holds `amount` readable bytes.
unsafe fn write_through(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: as the caller promises; every piece lies within the `amount` bytes at `data`.
    unsafe {
        let (inner, methods) = parent_of(file);
        let Some(write) = methods.xWrite else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let mut done: c_int = 0;
        while done < amount {
            let piece = (amount - done).min(CAPACITY as c_int);
            let rc = write(
                inner,
                data.cast::<u8>().add(done as usize).cast(),
                piece,
                offset + ffi::sqlite3_int64::from(done),
            );
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            done += piece;
        }
        ffi::SQLITE_OK
    }
}

/// Writes what is pending, if anything.
///
/// # Safety
/// As `parent_of`.
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: `pending` is null or the Box made at open, owned by this file; SQLite does not
    // call one file's methods from two threads at once.
    unsafe {
        let Some(pending) = (*file.cast::<File>()).pending.as_mut() else {
            return ffi::SQLITE_OK;
        };
        if pending.bytes.is_empty() {
            return ffi::SQLITE_OK;
        }
        let (inner, methods) = parent_of(file);
        let Some(write) = methods.xWrite else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        WAL_WRITES_ISSUED.fetch_add(1, Ordering::Relaxed);
        // At most CAPACITY bytes, so the length fits a c_int. Cleared even on failure: the
        // commit fails and a later write must not carry these bytes to the file.
        let rc = write(
            inner,
            pending.bytes.as_ptr().cast(),
            pending.bytes.len() as c_int,
            pending.offset,
        );
        pending.bytes.clear();
        rc
    }
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite passes one of our open files and `amount` readable bytes at `data`.
    unsafe {
        let Some(pending) = (*file.cast::<File>()).pending.as_mut() else {
            return write_through(file, data, amount, offset);
        };
        WAL_WRITES_RECEIVED.fetch_add(1, Ordering::Relaxed);
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), amount.max(0) as usize);
        let start = pending.offset;
        let end = start + pending.bytes.len() as i64;
        if !pending.bytes.is_empty() {
            if offset == end && pending.bytes.len() + bytes.len() <= CAPACITY {
                pending.bytes.extend_from_slice(bytes);
                return ffi::SQLITE_OK;
            }
            if offset >= start && offset + bytes.len() as i64 <= end {
                // A frame rewritten within what is pending (SQLite rewrites a page it already
                // logged in this transaction).
                let at = (offset - start) as usize;
                pending.bytes[at..at + bytes.len()].copy_from_slice(bytes);
                return ffi::SQLITE_OK;
            }
            let rc = flush(file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        if bytes.len() > CAPACITY {
            WAL_WRITES_ISSUED.fetch_add(1, Ordering::Relaxed);
            return write_through(file, data, amount, offset);
        }
        pending.offset = offset;
        pending.bytes.extend_from_slice(bytes);
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file once; after this it touches neither ours nor the parent's.
    unsafe {
        let flushed = flush(file);
        let (inner, methods) = parent_of(file);
        let closed = methods.xClose.map_or(ffi::SQLITE_OK, |close| close(inner));
        let this = file.cast::<File>();
        if !(*this).pending.is_null() {
            drop(Box::from_raw((*this).pending));
            (*this).pending = ptr::null_mut();
        }
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            closed
        }
    }
}

/// Methods that first write what is pending, then ask the parent.
macro_rules! flushing {
    ($name:ident, $field:ident, ($($arg:ident: $ty:ty),*), $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            // SAFETY: SQLite passes one of our open files and the arguments its method expects.
            unsafe {
                let rc = flush(file);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                let (inner, methods) = parent_of(file);
                methods.$field.map_or($missing, |f| f(inner $(, $arg)*))
            }
        }
    };
}

flushing!(x_read, xRead, (buffer: *mut c_void, amount: c_int, offset: ffi::sqlite3_int64), ffi::SQLITE_IOERR_READ);
flushing!(x_truncate, xTruncate, (size: ffi::sqlite3_int64), ffi::SQLITE_IOERR_TRUNCATE);
/// A sync: what is pending is written, then the parent syncs, unless the file is a WAL and this
/// thread defers its WAL syncs.
unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: SQLite passes one of our open files; `pending` is null for every file but a WAL.
    unsafe {
        let rc = flush(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let is_wal = !(*file.cast::<File>()).pending.is_null();
        if is_wal && DEFER_WAL_SYNC.with(Cell::get) {
            WAL_SYNCS_DEFERRED.fetch_add(1, Ordering::Relaxed);
            return ffi::SQLITE_OK;
        }
        let (inner, methods) = parent_of(file);
        methods
            .xSync
            .map_or(ffi::SQLITE_IOERR_FSYNC, |f| f(inner, flags))
    }
}
flushing!(x_file_size, xFileSize, (size: *mut ffi::sqlite3_int64), ffi::SQLITE_IOERR_FSTAT);
flushing!(x_file_control, xFileControl, (op: c_int, arg: *mut c_void), ffi::SQLITE_NOTFOUND);

/// Methods passed to the parent as they are (locks, shared memory, device properties). A method
/// newer than the parent's table (`iVersion`) is not read from it: the table ends before it.
macro_rules! passed {
    ($name:ident, $field:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty, $missing:expr) => {
        passed!($name, $field, 1, ($($arg: $ty),*) -> $ret, $missing);
    };
    ($name:ident, $field:ident, $since:literal, ($($arg:ident: $ty:ty),*) -> $ret:ty, $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> $ret {
            // SAFETY: SQLite passes one of our open files and the arguments its method expects.
            unsafe {
                let (inner, methods) = parent_of(file);
                if methods.iVersion < $since {
                    return $missing;
                }
                methods.$field.map_or($missing, |f| f(inner $(, $arg)*))
            }
        }
    };
}

passed!(x_lock, xLock, (level: c_int) -> c_int, ffi::SQLITE_IOERR_LOCK);
passed!(x_unlock, xUnlock, (level: c_int) -> c_int, ffi::SQLITE_IOERR_UNLOCK);
passed!(x_check_reserved_lock, xCheckReservedLock, (out: *mut c_int) -> c_int, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK);
passed!(x_sector_size, xSectorSize, () -> c_int, 4096);
passed!(x_device_characteristics, xDeviceCharacteristics, () -> c_int, 0);
passed!(x_shm_map_parent, xShmMap, 2, (page: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int, ffi::SQLITE_IOERR_SHMMAP);
passed!(x_shm_lock, xShmLock, 2, (offset: c_int, n: c_int, flags: c_int) -> c_int, ffi::SQLITE_IOERR_SHMLOCK);
passed!(x_shm_unmap_parent, xShmUnmap, 2, (delete: c_int) -> c_int, ffi::SQLITE_OK);

/// The parent's map, noting where the first region (the WAL index header) is for
/// [`wal_index_header`].
unsafe extern "C" fn x_shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: SQLite passes one of our open files and a place for the region's address.
    unsafe {
        let rc = x_shm_map_parent(file, page, size, extend, out);
        if rc == ffi::SQLITE_OK && page == 0 && !(*out).is_null() {
            (*file.cast::<File>()).wal_index = (*out).cast::<u32>().cast_const();
        }
        rc
    }
}

/// The parent's unmap, forgetting the WAL index first: its memory may go with it.
unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    // SAFETY: SQLite passes one of our open files.
    unsafe {
        (*file.cast::<File>()).wal_index = ptr::null();
        x_shm_unmap_parent(file, delete)
    }
}
passed!(x_unfetch, xUnfetch, 3, (offset: ffi::sqlite3_int64, page: *mut c_void) -> c_int, ffi::SQLITE_OK);

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: SQLite passes one of our open files; shared memory needs a version 2 table.
    unsafe {
        let (inner, methods) = parent_of(file);
        if methods.iVersion >= 2 {
            if let Some(barrier) = methods.xShmBarrier {
                barrier(inner);
            }
        }
    }
}

/// A memory-mapped read: the parent's, after what is pending is written. Without one (a parent
/// older than version 3), no page: SQLite then reads instead.
unsafe extern "C" fn x_fetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: SQLite passes one of our open files and a place for the page pointer.
    unsafe {
        let rc = flush(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let (inner, methods) = parent_of(file);
        match methods.xFetch.filter(|_| methods.iVersion >= 3) {
            Some(fetch) => fetch(inner, offset, amount, out),
            None => {
                *out = ptr::null_mut();
                ffi::SQLITE_OK
            }
        }
    }
}
