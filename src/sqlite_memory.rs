//! SQLite's own allocations through mimalloc, the allocator of the rest of the process.
//!
//! SQLite allocates with the C library's `malloc` unless told otherwise, and sqlx copies every
//! column of every row it reads (`sqlite3_value_dup`) on the connection's thread, to be freed on
//! the thread that reads the row. glibc's allocator handles memory freed by another thread
//! slowly: a 1M-event replay spent 24% of its samples in glibc's `_int_malloc` on the connection's
//! thread and 11% in `free` on the reader's (BENCHMARKS.md, tenth session).

use std::ffi::{c_int, c_void};

use libsqlite3_sys::{SQLITE_CONFIG_MALLOC, SQLITE_OK, sqlite3_config, sqlite3_mem_methods};

unsafe extern "C" {
    // In the mimalloc library that the global allocator links; `libmimalloc-sys` declares them
    // only under a feature that pulls in another crate.
    fn mi_usable_size(pointer: *const c_void) -> usize;
    fn mi_good_size(size: usize) -> usize;
}

unsafe extern "C" fn allocate(size: c_int) -> *mut c_void {
    // SAFETY: mi_malloc takes any size and returns null when it has no memory, as SQLite expects.
    unsafe { libmimalloc_sys::mi_malloc(size.max(0) as usize) }
}

unsafe extern "C" fn free(pointer: *mut c_void) {
    // SAFETY: SQLite frees only what `allocate` or `reallocate` returned, or null.
    unsafe { libmimalloc_sys::mi_free(pointer) }
}

unsafe extern "C" fn reallocate(pointer: *mut c_void, size: c_int) -> *mut c_void {
    // SAFETY: as `free`; on failure mi_realloc returns null and leaves the block as it was.
    unsafe { libmimalloc_sys::mi_realloc(pointer, size.max(0) as usize) }
}

unsafe extern "C" fn usable_size(pointer: *mut c_void) -> c_int {
    // SAFETY: SQLite asks only about blocks `allocate` or `reallocate` returned.
    let size = unsafe { mi_usable_size(pointer) };
    c_int::try_from(size).unwrap_or(c_int::MAX)
}

/// The size `allocate(size)` really gets, as SQLite asks: a reallocation within it is skipped.
unsafe extern "C" fn round_up(size: c_int) -> c_int {
    // SAFETY: mi_good_size only computes a size class.
    let size = unsafe { mi_good_size(size.max(0) as usize) };
    c_int::try_from(size).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn start(_: *mut c_void) -> c_int {
    SQLITE_OK
}

unsafe extern "C" fn stop(_: *mut c_void) {}

/// Routes SQLite's allocations to mimalloc. It must run before the process opens its first SQLite
/// connection, while no other thread uses SQLite (`main` calls it before starting any thread);
/// false if SQLite had started already, and SQLite keeps the C library's.
pub fn use_mimalloc() -> bool {
    let methods = sqlite3_mem_methods {
        xMalloc: Some(allocate),
        xFree: Some(free),
        xRealloc: Some(reallocate),
        xSize: Some(usable_size),
        xRoundup: Some(round_up),
        xInit: Some(start),
        xShutdown: Some(stop),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: SQLITE_CONFIG_MALLOC takes a pointer to the methods, which SQLite copies before it
    // returns. sqlite3_config is not thread-safe: the caller runs it before any other thread
    // touches SQLite, and once SQLite has started it refuses the call (SQLITE_MISUSE).
    unsafe { sqlite3_config(SQLITE_CONFIG_MALLOC, &methods as *const sqlite3_mem_methods) == SQLITE_OK }
}

#[cfg(test)]
mod tests {
    use libsqlite3_sys::{SQLITE_CONFIG_GETMALLOC, SQLITE_OK, sqlite3_config, sqlite3_mem_methods};
    use sqlx::Row;

    /// The allocator SQLite would use now; SQLite answers only before its start.
    fn sqlite_malloc() -> Option<usize> {
        // SAFETY: all-null pointers and `None`s are a valid value of the C struct.
        let mut methods: sqlite3_mem_methods = unsafe { std::mem::zeroed() };
        // SAFETY: SQLITE_CONFIG_GETMALLOC fills in the struct it is given.
        let answered = unsafe { sqlite3_config(SQLITE_CONFIG_GETMALLOC, &mut methods as *mut sqlite3_mem_methods) };
        assert_eq!(answered, SQLITE_OK);
        methods.xMalloc.map(|allocate| allocate as usize)
    }

    // The only test of this binary that opens SQLite: it must set the allocator before the start.
    #[tokio::test]
    async fn sqlite_allocates_with_mimalloc_from_its_start() {
        assert!(super::use_mimalloc(), "set before SQLite started");
        let ours = super::allocate as unsafe extern "C" fn(std::ffi::c_int) -> *mut std::ffi::c_void;
        assert_eq!(sqlite_malloc(), Some(ours as usize));

        // Rows read on the connection's thread and freed on this one, in sizes from 1 byte to 64 KiB.
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE blobs (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)").execute(&pool).await.unwrap();
        for id in 0..200_i64 {
            let bytes = vec![id as u8; 1 << (id % 17)];
            sqlx::query("INSERT INTO blobs VALUES ($1, $2)").bind(id).bind(bytes).execute(&pool).await.unwrap();
        }
        let rows = sqlx::query("SELECT id, bytes FROM blobs ORDER BY id").fetch_all(&pool).await.unwrap();
        assert_eq!(rows.len(), 200);
        for row in rows {
            let (id, bytes): (i64, Vec<u8>) = (row.get(0), row.get(1));
            assert_eq!(bytes, vec![id as u8; 1 << (id % 17)]);
        }
        let total: i64 = sqlx::query_scalar("SELECT SUM(length(bytes)) FROM blobs").fetch_one(&pool).await.unwrap();
        assert_eq!(total, (0..200_i64).map(|id| 1_i64 << (id % 17)).sum::<i64>());
        pool.close().await;

        assert!(!super::use_mimalloc(), "refused once SQLite has started");
    }
}
