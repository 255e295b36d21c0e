//! One-time codes that confirm payments.
//!
//! `/pay` creates a pending transfer and DMs the payer a 6-digit code; typing
//! it back (in the DM) confirms that one payment. The design decision to know:
//! a code is never stored, only its keyed hash `HMAC-SHA256(pepper, binding ||
//! 0x00 || digits)`, where `binding` is the pending payment's identity (its
//! transfer id bytes). A code therefore matches only its own payment, and a
//! leaked database without the pepper does not reveal codes. Everything else
//! here is plain data and pure functions: randomness comes in through
//! [`RandomSource`], time as `now_ms` arguments, and [`OtpChallenge::verdict`]
//! decides confirmed / wrong / locked out / expired without side effects.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use hmac::digest::Key;
use hmac::{Hmac, KeyInit, Mac};
use rand::rngs::{OsRng, StdRng};
use rand::{RngCore, SeedableRng, TryRngCore};
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

/// Digits in a code.
pub const OTP_DIGITS: usize = 6;
/// How many distinct codes there are: `10^OTP_DIGITS`.
const OTP_CODES_COUNT: u32 = 1_000_000;
const _: () = assert!(OTP_CODES_COUNT == 10_u32.pow(6) && OTP_DIGITS == 6);
/// Random `u32` draws at or above this are rejected, so that every code is
/// equally likely (no modulo bias): it is the largest multiple of
/// [`OTP_CODES_COUNT`] that fits, 4 294 000 000.
const OTP_DRAW_ZONE: u32 = u32::MAX / OTP_CODES_COUNT * OTP_CODES_COUNT;
/// Draws [`generate`] makes before giving up. A draw is rejected with
/// probability 2.3e-4, so 8 rejections in a row (5e-30) mean the randomness
/// source is broken (e.g. stuck at all ones), not unlucky.
pub const OTP_DRAWS_MAX: usize = 8;

/// How long a code is valid by default, in seconds (5 minutes).
pub const OTP_TTL_SECS_DEFAULT: u32 = 300;
/// Wrong codes allowed by default; the last one voids the payment.
pub const OTP_ATTEMPTS_MAX_DEFAULT: u8 = 5;
/// A challenge stamped further than this in the future (clock skew between
/// instances, or a corrupt row) is treated as expired rather than as valid
/// for longer than its TTL.
pub const OTP_CLOCK_SKEW_MS_MAX: i64 = 5_000;

/// The shortest pepper, in bytes (256 bits).
pub const PEPPER_BYTES_MIN: usize = 32;
/// The longest pepper, in bytes: SHA-256's block size. HMAC pads shorter keys
/// with zeros up to the block size, so any pepper up to this length is used
/// as is (see `keyed_mac`).
pub const PEPPER_BYTES_MAX: usize = 64;
/// The length of a pepper made by [`Pepper::generate`], in bytes.
pub const PEPPER_BYTES_GENERATED: usize = 32;
/// The length of an [`OtpHash`], in bytes.
pub const OTP_HASH_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// Why an OTP value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtpError {
    #[error("a pepper is {PEPPER_BYTES_MIN} to {PEPPER_BYTES_MAX} bytes, not {bytes}")]
    PepperLength { bytes: usize },
    #[error("a pepper whose bytes are all the same is a placeholder, not a secret")]
    PepperConstant,
    #[error("a stored code hash is {OTP_HASH_BYTES} bytes, not {bytes}")]
    HashLength { bytes: usize },
    #[error("the randomness source gave {OTP_DRAWS_MAX} unusable draws in a row")]
    RandomnessExhausted,
}

/// Where random bytes come from: [`OsRandom`] in production,
/// [`SeededRandom`] in tests and replays.
pub trait RandomSource: Send + Sync + fmt::Debug {
    fn fill_bytes(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    /// Reads the OS generator. If a read fails (not seen on Linux, where
    /// `getrandom` blocks until the pool is seeded) it falls back to rand's
    /// thread-local ChaCha12 generator, itself seeded from the OS, which
    /// panics if it never could be seeded: no code is made from bad bytes.
    fn fill_bytes(&self, buf: &mut [u8]) {
        if OsRng.try_fill_bytes(buf).is_err() {
            rand::rng().fill_bytes(buf);
        }
    }
}

/// A deterministic generator (ChaCha12 seeded from a `u64`), so tests can
/// replay the same codes. Never use it to serve users.
pub struct SeededRandom(Mutex<StdRng>);

impl SeededRandom {
    pub fn new(seed: u64) -> SeededRandom {
        SeededRandom(Mutex::new(StdRng::seed_from_u64(seed)))
    }
}

impl fmt::Debug for SeededRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeededRandom { .. }")
    }
}

impl RandomSource for SeededRandom {
    fn fill_bytes(&self, buf: &mut [u8]) {
        // A panic elsewhere while holding the lock leaves a valid generator.
        let mut rng = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        rng.fill_bytes(buf);
    }
}

/// A freshly generated code, `000000` to `999999`. Its only way out is
/// [`OtpSecret::expose`], for the one DM that carries it, and
/// [`OtpSecret::hash`], for storage. Zeroed on drop; Debug prints
/// `[REDACTED]`.
pub struct OtpSecret(SecretString);

impl OtpSecret {
    /// The 6 ASCII digits, to put in the payer's DM and nowhere else.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The value to store for this code and this payment.
    pub fn hash(&self, pepper: &Pepper, binding: &[u8]) -> OtpHash {
        OtpHash::hash(pepper, binding, self.expose())
    }
}

impl fmt::Debug for OtpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpSecret([REDACTED])")
    }
}

/// Draws a uniformly random code: rejection sampling on `u32`s (draws at or
/// above `OTP_DRAW_ZONE`, 4 294 000 000, are thrown away), at most
/// [`OTP_DRAWS_MAX`] draws.
pub fn generate(rng: &dyn RandomSource) -> Result<OtpSecret, OtpError> {
    for _ in 0..OTP_DRAWS_MAX {
        let mut bytes = [0_u8; 4];
        rng.fill_bytes(&mut bytes);
        let draw = u32::from_le_bytes(bytes);
        bytes.zeroize();
        if draw < OTP_DRAW_ZONE {
            let code = draw % OTP_CODES_COUNT;
            return Ok(OtpSecret(SecretString::from(format!("{code:06}"))));
        }
    }
    Err(OtpError::RandomnessExhausted)
}

/// The server's secret key for hashing codes, [`PEPPER_BYTES_MIN`] to
/// [`PEPPER_BYTES_MAX`] bytes. Zeroed on drop; Debug prints `[REDACTED]`.
/// Changing it invalidates every pending code (their payments then expire).
pub struct Pepper(SecretSlice<u8>);

impl Pepper {
    /// A fresh random pepper of [`PEPPER_BYTES_GENERATED`] bytes.
    pub fn generate(rng: &dyn RandomSource) -> Pepper {
        let mut bytes = vec![0_u8; PEPPER_BYTES_GENERATED];
        rng.fill_bytes(&mut bytes);
        Pepper(SecretSlice::from(bytes))
    }

    /// A pepper from settings (already decoded from hex or base64 by the
    /// caller). Refuses a wrong length and all-equal bytes (a placeholder
    /// such as 32 zero bytes). The bytes are zeroed either way.
    pub fn from_bytes(mut bytes: Vec<u8>) -> Result<Pepper, OtpError> {
        let refusal = if !(PEPPER_BYTES_MIN..=PEPPER_BYTES_MAX).contains(&bytes.len()) {
            Some(OtpError::PepperLength { bytes: bytes.len() })
        } else if bytes.windows(2).all(|pair| pair.first() == pair.last()) {
            Some(OtpError::PepperConstant)
        } else {
            None
        };
        match refusal {
            Some(error) => {
                bytes.zeroize();
                Err(error)
            }
            None => Ok(Pepper(SecretSlice::from(bytes))),
        }
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper([REDACTED])")
    }
}

/// HMAC-SHA256 keyed with `key` (at most [`PEPPER_BYTES_MAX`] bytes).
///
/// HMAC zero-pads a key shorter than the hash's block size (RFC 2104), so
/// padding it here and using the infallible `KeyInit::new` gives the same MAC
/// as `new_from_slice` without a `Result` that can never be an error. A key
/// longer than the block size would have to be hashed first; [`Pepper`]
/// never holds one.
fn keyed_mac(key: &[u8]) -> HmacSha256 {
    let mut block = Key::<HmacSha256>::default();
    block
        .iter_mut()
        .zip(key)
        .for_each(|(slot, byte)| *slot = *byte);
    let mac = <HmacSha256 as KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    mac
}
const _: () = assert!(PEPPER_BYTES_MAX == 64, "SHA-256's block size");

/// `true` for exactly [`OTP_DIGITS`] ASCII digits.
fn is_code_shape(digits: &str) -> bool {
    digits.len() == OTP_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The stored form of a code: `HMAC-SHA256(pepper, binding || 0x00 ||
/// digits)`. With the digits always exactly 6 ASCII bytes, the input splits
/// back into binding and digits one way only. Debug shows nothing; compare
/// with [`OtpHash::matches`], which takes constant time.
#[derive(Clone, Copy)]
pub struct OtpHash([u8; OTP_HASH_BYTES]);

impl OtpHash {
    /// Hashes `code_digits` (exactly [`OTP_DIGITS`] ASCII digits; prefer
    /// [`OtpSecret::hash`]) for the payment identified by `binding`.
    pub fn hash(pepper: &Pepper, binding: &[u8], code_digits: &str) -> OtpHash {
        let mut mac = keyed_mac(pepper.0.expose_secret());
        mac.update(binding);
        mac.update(&[0x00]);
        mac.update(code_digits.as_bytes());
        OtpHash(mac.finalize().into_bytes().into())
    }

    /// Whether `typed_digits` is this payment's code, in constant time.
    /// Anything but exactly [`OTP_DIGITS`] ASCII digits never matches.
    pub fn matches(&self, pepper: &Pepper, binding: &[u8], typed_digits: &str) -> bool {
        if !is_code_shape(typed_digits) {
            return false;
        }
        let typed = OtpHash::hash(pepper, binding, typed_digits);
        bool::from(self.0.ct_eq(&typed.0))
    }

    pub fn to_bytes(&self) -> [u8; OTP_HASH_BYTES] {
        self.0
    }

    /// Reads a stored hash back (e.g. a database blob).
    pub fn from_bytes(bytes: &[u8]) -> Result<OtpHash, OtpError> {
        <[u8; OTP_HASH_BYTES]>::try_from(bytes)
            .map(OtpHash)
            .map_err(|_| OtpError::HashLength { bytes: bytes.len() })
    }
}

impl fmt::Debug for OtpHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpHash(..)")
    }
}

/// How long codes live and how many wrong tries they allow: plain data,
/// from settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpPolicy {
    pub ttl_secs: u32,
    pub attempts_max: u8,
}

impl Default for OtpPolicy {
    fn default() -> OtpPolicy {
        OtpPolicy {
            ttl_secs: OTP_TTL_SECS_DEFAULT,
            attempts_max: OTP_ATTEMPTS_MAX_DEFAULT,
        }
    }
}

impl OtpPolicy {
    pub fn ttl_ms(&self) -> i64 {
        i64::from(self.ttl_secs) * 1_000
    }
}

/// What is stored for a pending payment's code. Times are ms since the Unix
/// epoch.
#[derive(Debug, Clone, Copy)]
pub struct OtpChallenge {
    pub hash: OtpHash,
    pub issued_at_ms: i64,
    /// Wrong codes typed so far.
    pub failed_attempts: u8,
}

/// The outcome of typing a code for a pending payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The right code in time: execute the payment; the code is spent.
    Confirmed,
    /// A wrong code: store [`OtpChallenge::after_wrong`]; this many tries
    /// remain (at least 1).
    Wrong { attempts_left: u8 },
    /// That try was the last allowed (or tries were already used up): void
    /// the payment. A right code is refused too.
    LockedOut,
    /// Too late, whatever was typed: void the payment.
    Expired,
}

impl OtpChallenge {
    /// A new challenge with no failed attempts.
    pub fn new(hash: OtpHash, issued_at_ms: i64) -> OtpChallenge {
        OtpChallenge {
            hash,
            issued_at_ms,
            failed_attempts: 0,
        }
    }

    /// The first instant the code is no longer accepted.
    pub fn expires_at_ms(&self, policy: &OtpPolicy) -> i64 {
        self.issued_at_ms.saturating_add(policy.ttl_ms())
    }

    /// Expired at `now_ms`: at or after [`OtpChallenge::expires_at_ms`], or
    /// stamped more than [`OTP_CLOCK_SKEW_MS_MAX`] in the future.
    pub fn is_expired(&self, policy: &OtpPolicy, now_ms: i64) -> bool {
        now_ms >= self.expires_at_ms(policy)
            || now_ms < self.issued_at_ms.saturating_sub(OTP_CLOCK_SKEW_MS_MAX)
    }

    /// Decides what typing `typed_digits` at `now_ms` means. Pure: the
    /// caller stores the consequence. In order: expiry wins over everything,
    /// then a used-up challenge stays locked out, then the code is compared
    /// (in constant time). `typed_digits` is the parsed `/confirm` argument
    /// (`command::OtpCode::as_str`); anything but 6 ASCII digits counts as a
    /// wrong code.
    pub fn verdict(
        &self,
        policy: &OtpPolicy,
        pepper: &Pepper,
        binding: &[u8],
        typed_digits: &str,
        now_ms: i64,
    ) -> Verdict {
        if self.is_expired(policy, now_ms) {
            return Verdict::Expired;
        }
        if self.failed_attempts >= policy.attempts_max {
            return Verdict::LockedOut;
        }
        if self.hash.matches(pepper, binding, typed_digits) {
            return Verdict::Confirmed;
        }
        match policy
            .attempts_max
            .checked_sub(self.failed_attempts.saturating_add(1))
        {
            Some(attempts_left) if attempts_left > 0 => Verdict::Wrong { attempts_left },
            _ => Verdict::LockedOut,
        }
    }

    /// The challenge to store after a [`Verdict::Wrong`].
    pub fn after_wrong(self) -> OtpChallenge {
        OtpChallenge {
            failed_attempts: self.failed_attempts.saturating_add(1),
            ..self
        }
    }
}

/// One space-like or dash character between the two halves of a code.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// Every code-looking number in `text`, normalised to 6 ASCII digits, in
/// order (overlaps possible): a maximal run of exactly 6 digits, or two
/// maximal runs of exactly 3 digits joined by one space or dash (`123 456`,
/// `123-456`). Used to notice a code pasted into a group chat.
///
/// Decisions: the text is NFKC-normalised first, so full-width digits count.
/// Only digits bound a run: `1234567` and `12345` yield nothing, while
/// `id123456` and the `123456` of `20.123456` do. These are candidates, not
/// verdicts: the caller voids a payment only if one matches that payment's
/// stored hash, so a false candidate costs one HMAC, and a missed code would
/// leave a leaked one usable. The text is bounded upstream by
/// `MESSAGE_TEXT_BYTES_MAX`, which bounds the candidates too.
pub fn find_codes(text: &str) -> impl Iterator<Item = String> {
    let normal: String = text.nfkc().collect();
    let runs = digit_runs(&normal);
    let half = OTP_DIGITS / 2;
    let mut codes = Vec::new();
    for (index, &(start, end)) in runs.iter().enumerate() {
        let run = normal.get(start..end).unwrap_or_default();
        if run.len() == OTP_DIGITS {
            codes.push(run.to_owned());
        }
        if run.len() != half {
            continue;
        }
        let Some(&(next_start, next_end)) = runs.get(index + 1) else {
            continue;
        };
        let between = normal.get(end..next_start).unwrap_or_default();
        let next = normal.get(next_start..next_end).unwrap_or_default();
        let mut between_chars = between.chars();
        let one_separator =
            between_chars.next().is_some_and(is_separator) && between_chars.next().is_none();
        if next.len() == half && one_separator {
            codes.push(format!("{run}{next}"));
        }
    }
    codes.into_iter()
}

/// Byte ranges of the maximal runs of ASCII digits in `text`.
fn digit_runs(text: &str) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        match (c.is_ascii_digit(), start) {
            (true, None) => start = Some(at),
            (false, Some(begun)) => {
                runs.push((begun, at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begun) = start {
        runs.push((begun, text.len()));
    }
    runs
}

#[cfg(test)]
mod tests;
