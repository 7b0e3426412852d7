//! `start_writeback` on a file opened for reading, as the checkpoint thread opens the database.

use std::io::Write;

#[test]
fn writeback_starts_on_a_file_opened_for_reading() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("data");
    std::fs::File::create(&path)?.write_all(&[7u8; 64 * 1024])?;
    let file = std::fs::File::open(&path)?;
    wal_buffer::start_writeback(&file)?;
    assert_eq!(std::fs::read(&path)?, vec![7u8; 64 * 1024]);
    Ok(())
}
