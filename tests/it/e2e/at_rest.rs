//! What paybot leaves on disk: a SQLite database it creates at any path is
//! readable by its owner only (and so are its `-wal` and `-shm` files,
//! which SQLite creates with the main file's mode), and the card
//! fingerprint key is a secret of its own, generated owner-only.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::support::{Server, serve, serve_fresh};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_database_at_a_custom_path_and_its_wal_are_owner_only() {
    let (dir, server) = serve_fresh(&[("PAYBOT_DATABASE__URL", "sqlite:custom/place/ledger.db")]);
    // A write, so the WAL is in use.
    assert_eq!(server.get("/readyz").0, 200);
    let folder = dir.path().join("custom/place");
    assert_eq!(mode(&folder), 0o700);
    for file in ["ledger.db", "ledger.db-wal", "ledger.db-shm"] {
        assert_eq!(mode(&folder.join(file)), 0o600, "{file}");
    }
    // Generated at first start, owner-only, apart from the OTP pepper.
    let key = dir.path().join("data/card_fingerprint_key");
    assert_eq!(mode(&key), 0o600);
    let pepper = std::fs::read_to_string(dir.path().join("data/otp_pepper")).unwrap();
    assert_ne!(std::fs::read_to_string(&key).unwrap(), pepper);
    server.signal("TERM");
    let (status, log) = server.wait_for_exit();
    assert!(status.success(), "{log}");
}

#[test]
fn the_fingerprint_key_from_the_environment_is_not_written_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let key = "fingerprint-key-0123456789abcdef0123456789abcdef";
    let server = Server::start(&mut serve(
        dir.path(),
        &[("PAYBOT_CARDS__FINGERPRINT_KEY", key)],
    ));
    assert_eq!(server.get("/healthz").0, 200);
    assert!(!dir.path().join("data/card_fingerprint_key").exists());
    assert!(!server.stderr().contains(key));
}
