//! The second factor: an authenticator app (RFC 6238 TOTP), its secret
//! sealed at rest, one-time recovery codes, and when a code is needed.
//!
//! The design decision to know: the TOTP secret is kept only sealed
//! (XChaCha20-Poly1305 under a key of its own from the secret settings,
//! the user id as associated data, so a sealed secret copied to another
//! user's row does not open), and a code is accepted once: the store keeps
//! the last time step used and takes a step only if it is later
//! ([`SecondFactorStore::use_second_factor_step`]). Recovery codes are kept
//! only as keyed hashes and each is taken once. Wrong codes are counted in
//! the store, per user, over a rolling window
//! ([`SecondFactorStore::begin_second_factor_attempt`]), so a restart does
//! not reset them.
//!
//! Everything here is pure (time and randomness are passed in); the
//! commands and the gate the confirmations pass are in the service
//! (`service/second_factor.rs`).

use std::fmt;

use async_trait::async_trait;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ledger::{Amount, Currency};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

use super::tier::Tier;
use crate::otp::{OtpHash, Pepper, RandomSource};
use crate::store::{StoreError, UserId};

/// Digits of an authenticator code.
pub const TOTP_DIGITS: usize = 6;
/// The length of a time step, in seconds (RFC 6238's default).
pub const TOTP_STEP_SECS: u64 = 30;
/// Steps before and after the current one that are accepted (clock drift).
pub const TOTP_SKEW_STEPS: u16 = 1;
/// Bytes of a TOTP secret (160 bits, RFC 4226's recommendation).
pub const TOTP_SECRET_BYTES: usize = 20;
/// Characters of the secret in base32 (no padding).
pub const TOTP_SECRET_BASE32_CHARS: usize = 32;
/// The issuer named in the `otpauth://` URI and shown by the app.
pub const TOTP_ISSUER: &str = "paybot";
/// The longest account label in the URI, in characters.
pub const TOTP_LABEL_CHARS_MAX: usize = 64;
/// Bytes of an XChaCha20-Poly1305 nonce.
pub const SEAL_NONCE_BYTES: usize = 24;
/// Bytes of a sealed secret: the secret and its 16-byte tag.
pub const SEALED_SECRET_BYTES: usize = TOTP_SECRET_BYTES + 16;
/// Recovery codes made at enrolment.
pub const RECOVERY_CODES_COUNT: usize = 10;
/// Characters of a recovery code (base32: 50 bits).
pub const RECOVERY_CODE_CHARS: usize = 10;
/// Bytes of a stored recovery code hash.
pub const RECOVERY_HASH_BYTES: usize = 32;
/// The base32 alphabet of secrets and recovery codes (RFC 4648).
pub const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Default: wrong codes one user may give per window before the second
/// factor is locked until the oldest leaves the window.
pub const TOTP_WRONG_CODES_PER_WINDOW_MAX_DEFAULT: u32 = 5;
/// Default: the window wrong codes are counted over (15 minutes).
pub const TOTP_WRONG_CODES_WINDOW_SECS_DEFAULT: u32 = 15 * 60;
/// How long an enrolment waits for its first code before `/2fa setup`
/// must be run again.
pub const SECOND_FACTOR_SETUP_TTL_SECS: u32 = 15 * 60;
/// Most tier rows in the settings.
pub const SECOND_FACTOR_TIERS_MAX: usize = 10;

/// Why a second-factor value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecondFactorError {
    #[error("a TOTP secret is {TOTP_SECRET_BYTES} bytes, not {bytes}")]
    SecretLength { bytes: usize },
    #[error("the sealed secret does not open with this key for this user")]
    Unseal,
    #[error("the secret could not be sealed")]
    Seal,
    #[error("the authenticator could not be built: {0}")]
    Totp(String),
}

// ---------------------------------------------------------------------------
// Values typed by the user.

/// Six ASCII digits from an authenticator app.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl TotpCode {
    pub fn parse(word: &str) -> Option<TotpCode> {
        (word.len() == TOTP_DIGITS && word.bytes().all(|b| b.is_ascii_digit()))
            .then(|| TotpCode(word.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode([REDACTED])")
    }
}

/// A one-time recovery code: [`RECOVERY_CODE_CHARS`] base32 characters,
/// typed in any case, with or without the dash in the middle.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    pub fn parse(word: &str) -> Option<RecoveryCode> {
        if word.len() > RECOVERY_CODE_CHARS + 2 {
            return None;
        }
        let text: String = word
            .chars()
            .filter(|c| *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        (text.len() == RECOVERY_CODE_CHARS && text.bytes().all(|b| BASE32_ALPHABET.contains(&b)))
            .then_some(RecoveryCode(text))
    }

    /// A fresh random code.
    pub fn generate(rng: &dyn RandomSource) -> RecoveryCode {
        let mut bytes = [0_u8; RECOVERY_CODE_CHARS];
        rng.fill_bytes(&mut bytes);
        // 256 is a multiple of 32: every character is equally likely.
        let text = bytes
            .iter()
            .map(|b| {
                BASE32_ALPHABET
                    .get(usize::from(b % 32))
                    .map_or('A', |c| char::from(*c))
            })
            .collect();
        RecoveryCode(text)
    }

    /// The code, to compare or hash; never to log or reply.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// As shown: `ABCDE-FGHIJ`.
    pub fn grouped(&self) -> String {
        let (first, second) = self.0.split_at(RECOVERY_CODE_CHARS / 2);
        format!("{first}-{second}")
    }

    /// The stored form, keyed with the pepper and bound to the user.
    pub fn hash(&self, pepper: &Pepper, user: UserId) -> [u8; RECOVERY_HASH_BYTES] {
        let binding = format!("paybot.second_factor.recovery:{user}");
        OtpHash::hash(pepper, binding.as_bytes(), &self.0).to_bytes()
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([REDACTED])")
    }
}

/// What a user gives as their second factor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TotpOrRecovery {
    Totp(TotpCode),
    Recovery(RecoveryCode),
}

impl TotpOrRecovery {
    /// The code as typed (normalised), to check; never to log or reply.
    pub fn expose(&self) -> &str {
        match self {
            TotpOrRecovery::Totp(code) => code.as_str(),
            TotpOrRecovery::Recovery(code) => code.expose(),
        }
    }

    pub fn parse(word: &str) -> Option<TotpOrRecovery> {
        TotpCode::parse(word)
            .map(TotpOrRecovery::Totp)
            .or_else(|| RecoveryCode::parse(word).map(TotpOrRecovery::Recovery))
    }
}

// ---------------------------------------------------------------------------
// The secret.

/// A TOTP secret in the clear: only between its generation or unsealing
/// and the code check or the setup message. Zeroed on drop; Debug prints
/// `[REDACTED]`.
pub struct TotpSecret(SecretSlice<u8>);

impl TotpSecret {
    pub fn generate(rng: &dyn RandomSource) -> TotpSecret {
        let mut bytes = vec![0_u8; TOTP_SECRET_BYTES];
        rng.fill_bytes(&mut bytes);
        TotpSecret(SecretSlice::from(bytes))
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<TotpSecret, SecondFactorError> {
        if bytes.len() != TOTP_SECRET_BYTES {
            return Err(SecondFactorError::SecretLength { bytes: bytes.len() });
        }
        Ok(TotpSecret(SecretSlice::from(bytes)))
    }

    /// The secret from its base32 text (as shown at setup), for tests and
    /// conversation scripts that play the authenticator app.
    pub fn from_base32(text: &str) -> Result<TotpSecret, SecondFactorError> {
        let clean: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let mut bits: u64 = 0;
        let mut held = 0_u32;
        let mut bytes = Vec::with_capacity(TOTP_SECRET_BYTES);
        for c in clean.bytes() {
            let value = BASE32_ALPHABET
                .iter()
                .position(|a| *a == c)
                .and_then(|v| u64::try_from(v).ok())
                .ok_or(SecondFactorError::SecretLength { bytes: 0 })?;
            bits = (bits << 5) | value;
            held += 5;
            if held >= 8 {
                held -= 8;
                bytes.push(u8::try_from((bits >> held) & 0xff).unwrap_or(0));
            }
        }
        TotpSecret::from_bytes(bytes)
    }

    /// Base32 without padding, as authenticator apps take it.
    pub fn base32(&self) -> String {
        totp_rs::Secret::from(self.0.expose_secret().to_vec()).to_base32()
    }

    /// Base32 in groups of four, for typing by hand.
    pub fn grouped(&self) -> String {
        let text = self.base32();
        let chars: Vec<char> = text.chars().collect();
        chars
            .chunks(4)
            .map(|group| group.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn totp(&self) -> Result<totp_rs::Totp, SecondFactorError> {
        totp_rs::Builder::new()
            .with_algorithm(totp_rs::Algorithm::SHA1)
            .with_digits(u8::try_from(TOTP_DIGITS).unwrap_or(6))
            .with_step_duration(TOTP_STEP_SECS)
            .with_skew(TOTP_SKEW_STEPS)
            .with_secret(self.0.expose_secret().to_vec())
            .build()
            .map_err(|e| SecondFactorError::Totp(e.to_string()))
    }

    /// The code an authenticator shows at `unix_ms`.
    pub fn code_at(&self, unix_ms: i64) -> Result<String, SecondFactorError> {
        Ok(self.totp()?.generate(unix_secs(unix_ms)).to_string())
    }

    /// The time step `code` belongs to, if it is right at `unix_ms` (within
    /// [`TOTP_SKEW_STEPS`]); the caller takes the step once.
    pub fn step_of(&self, code: &TotpCode, unix_ms: i64) -> Result<Option<i64>, SecondFactorError> {
        Ok(self
            .totp()?
            .check(code.as_str(), unix_secs(unix_ms))
            .and_then(|step| i64::try_from(step).ok()))
    }

    /// `otpauth://totp/paybot:LABEL?secret=...&issuer=paybot` (Key Uri
    /// Format); the label is percent-encoded and bounded.
    pub fn otpauth_uri(&self, label: &str) -> String {
        let label: String = label.chars().take(TOTP_LABEL_CHARS_MAX).collect();
        format!(
            "otpauth://totp/{TOTP_ISSUER}:{}?secret={}&issuer={TOTP_ISSUER}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECS}",
            percent_encode(&label),
            self.base32()
        )
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([REDACTED])")
    }
}

fn unix_secs(unix_ms: i64) -> u64 {
    u64::try_from(unix_ms.max(0) / 1_000).unwrap_or(0)
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'@') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The key secrets are sealed with: derived from the secret setting
/// `trust.second_factor.key` (or its file) by HMAC, so the setting may be
/// any 32 to 64 bytes of text, as the pepper is.
pub struct SealKey(SecretSlice<u8>);

impl SealKey {
    pub fn derive(secret: &Pepper) -> SealKey {
        let key = OtpHash::hash(secret, b"paybot.second_factor.seal.v1", "").to_bytes();
        SealKey(SecretSlice::from(key.to_vec()))
    }

    /// A key of its own for sealing another kind of secret (`purpose`
    /// names it, e.g. a biller's webhook secrets), from the same secret
    /// setting: a secret sealed for one purpose does not open for another.
    pub fn derive_for(secret: &Pepper, purpose: &str) -> SealKey {
        let key = OtpHash::hash(secret, purpose.as_bytes(), "").to_bytes();
        SealKey(SecretSlice::from(key.to_vec()))
    }

    fn cipher(&self) -> Option<XChaCha20Poly1305> {
        XChaCha20Poly1305::new_from_slice(self.0.expose_secret()).ok()
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey([REDACTED])")
    }
}

/// A sealed secret as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedSecret { .. }")
    }
}

fn associated_data(user: UserId) -> String {
    format!("paybot.second_factor.v1:user:{user}")
}

/// Seals `secret` for `user` with a fresh random nonce.
pub fn seal(
    key: &SealKey,
    user: UserId,
    secret: &TotpSecret,
    rng: &dyn RandomSource,
) -> Result<SealedSecret, SecondFactorError> {
    let cipher = key.cipher().ok_or(SecondFactorError::Seal)?;
    let mut nonce = [0_u8; SEAL_NONCE_BYTES];
    rng.fill_bytes(&mut nonce);
    let aad = associated_data(user);
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: secret.0.expose_secret(),
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| SecondFactorError::Seal)?;
    Ok(SealedSecret {
        nonce: nonce.to_vec(),
        ciphertext,
    })
}

/// Opens what [`seal`] sealed for the same user with the same key.
pub fn unseal(
    key: &SealKey,
    user: UserId,
    sealed: &SealedSecret,
) -> Result<TotpSecret, SecondFactorError> {
    if sealed.nonce.len() != SEAL_NONCE_BYTES || sealed.ciphertext.len() != SEALED_SECRET_BYTES {
        return Err(SecondFactorError::Unseal);
    }
    let cipher = key.cipher().ok_or(SecondFactorError::Unseal)?;
    let nonce = <[u8; SEAL_NONCE_BYTES]>::try_from(sealed.nonce.as_slice())
        .map_err(|_| SecondFactorError::Unseal)?;
    let aad = associated_data(user);
    let plain = cipher
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| SecondFactorError::Unseal)?;
    TotpSecret::from_bytes(plain)
}

/// Seals `plain` (any secret of [`SealKey::derive_for`]'s purpose) with a
/// fresh random nonce, bound to `context` (associated data: what it
/// belongs to, so a sealed value copied elsewhere does not open).
pub fn seal_bytes(
    key: &SealKey,
    context: &str,
    plain: &[u8],
    rng: &dyn RandomSource,
) -> Result<SealedSecret, SecondFactorError> {
    let cipher = key.cipher().ok_or(SecondFactorError::Seal)?;
    let mut nonce = [0_u8; SEAL_NONCE_BYTES];
    rng.fill_bytes(&mut nonce);
    let ciphertext = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plain,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| SecondFactorError::Seal)?;
    Ok(SealedSecret {
        nonce: nonce.to_vec(),
        ciphertext,
    })
}

/// Opens what [`seal_bytes`] sealed with the same key and context.
pub fn unseal_bytes(
    key: &SealKey,
    context: &str,
    sealed: &SealedSecret,
) -> Result<SecretSlice<u8>, SecondFactorError> {
    let cipher = key.cipher().ok_or(SecondFactorError::Unseal)?;
    let nonce = <[u8; SEAL_NONCE_BYTES]>::try_from(sealed.nonce.as_slice())
        .map_err(|_| SecondFactorError::Unseal)?;
    let plain = cipher
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| SecondFactorError::Unseal)?;
    Ok(SecretSlice::from(plain))
}

// ---------------------------------------------------------------------------
// The QR code.

/// Pixels per QR module in the picture.
pub const QR_MODULE_PIXELS: u32 = 8;
/// Quiet-zone modules around the code.
pub const QR_QUIET_MODULES: u32 = 4;

/// The `otpauth://` URI as a QR code, a greyscale PNG; `None` if the URI
/// does not fit a QR code (it always does: it is under 300 bytes).
pub fn qr_png(uri: &SecretString) -> Option<Vec<u8>> {
    let code = qrcode::QrCode::new(uri.expose_secret().as_bytes()).ok()?;
    let modules = u32::try_from(code.width()).ok()?;
    let colors = code.to_colors();
    let side = modules
        .checked_add(2 * QR_QUIET_MODULES)?
        .checked_mul(QR_MODULE_PIXELS)?;
    let side_usize = usize::try_from(side).ok()?;
    let mut pixels = vec![255_u8; side_usize.checked_mul(side_usize)?];
    for (index, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let index = u32::try_from(index).ok()?;
        let (mx, my) = (index % modules, index / modules);
        for dy in 0..QR_MODULE_PIXELS {
            for dx in 0..QR_MODULE_PIXELS {
                let x = (mx + QR_QUIET_MODULES) * QR_MODULE_PIXELS + dx;
                let y = (my + QR_QUIET_MODULES) * QR_MODULE_PIXELS + dy;
                let at = usize::try_from(y * side + x).ok()?;
                if let Some(pixel) = pixels.get_mut(at) {
                    *pixel = 0;
                }
            }
        }
    }
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&pixels).ok()?;
        writer.finish().ok()?;
    }
    Some(png_bytes)
}

// ---------------------------------------------------------------------------
// The policy.

/// When a second factor is asked for, per tier and currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorTier {
    /// The lowest tier this row is for (up to the next row's tier).
    pub tier: Tier,
    /// A payment above this amount needs the code of a user who has a
    /// second factor. A currency not listed: no payment needs it.
    pub code_above: Vec<Amount>,
    /// A payment or cash-out above this amount is refused to a user who
    /// has no second factor (they are told to enrol). A currency not
    /// listed: no refusal.
    pub refuse_unenrolled_above: Vec<Amount>,
}

/// This area's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorPolicy {
    /// Wrong codes per window before the second factor locks.
    pub wrong_codes_max: u32,
    /// The rolling window wrong codes are counted over, in seconds.
    pub wrong_codes_window_secs: u32,
    /// By tier, lowest first.
    pub tiers: Vec<SecondFactorTier>,
}

impl Default for SecondFactorPolicy {
    /// No amount thresholds: only cash-outs, card adds and links ask an
    /// enrolled user for a code (tests that build a bot directly).
    fn default() -> SecondFactorPolicy {
        SecondFactorPolicy {
            wrong_codes_max: TOTP_WRONG_CODES_PER_WINDOW_MAX_DEFAULT,
            wrong_codes_window_secs: TOTP_WRONG_CODES_WINDOW_SECS_DEFAULT,
            tiers: Vec::new(),
        }
    }
}

impl SecondFactorPolicy {
    pub fn wrong_codes_window_ms(&self) -> i64 {
        i64::from(self.wrong_codes_window_secs).saturating_mul(1_000)
    }

    fn row(&self, tier: Tier) -> Option<&SecondFactorTier> {
        self.tiers.iter().rev().find(|row| row.tier <= tier)
    }

    /// Above this, a payment needs the code (enrolled users).
    pub fn code_above(&self, tier: Tier, currency: Currency) -> Option<Amount> {
        self.row(tier)?
            .code_above
            .iter()
            .find(|a| a.currency() == currency)
            .copied()
    }

    /// Above this, a payment or cash-out is refused to users without a
    /// second factor.
    pub fn refuse_unenrolled_above(&self, tier: Tier, currency: Currency) -> Option<Amount> {
        self.row(tier)?
            .refuse_unenrolled_above
            .iter()
            .find(|a| a.currency() == currency)
            .copied()
    }

    /// Whether some tier's [`SecondFactorPolicy::code_above`] is below
    /// `amount`. When none is, no user's tier need be read to know that
    /// `amount` needs no app code.
    pub fn code_above_at_some_tier(&self, amount: Amount) -> bool {
        self.tiers
            .iter()
            .any(|row| exceeds_first_of(&row.code_above, amount))
    }

    /// Whether some tier's [`SecondFactorPolicy::refuse_unenrolled_above`]
    /// is below `amount`. When none is, no user's tier need be read to know
    /// that `amount` is not refused for want of a second factor.
    pub fn refuses_unenrolled_at_some_tier(&self, amount: Amount) -> bool {
        self.tiers
            .iter()
            .any(|row| exceeds_first_of(&row.refuse_unenrolled_above, amount))
    }
}

/// Whether `amount` is above the first of `thresholds` in its currency
/// (the one [`SecondFactorPolicy::code_above`] and its kin would find).
fn exceeds_first_of(thresholds: &[Amount], amount: Amount) -> bool {
    thresholds
        .iter()
        .find(|a| a.currency() == amount.currency())
        .is_some_and(|above| amount.minor() > above.minor())
}

// ---------------------------------------------------------------------------
// The store port.

/// Where an enrolment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondFactorState {
    /// Set up, waiting for its first code.
    Pending,
    /// Confirmed: asked for.
    Enabled,
}

impl SecondFactorState {
    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactorState::Pending => "pending",
            SecondFactorState::Enabled => "enabled",
        }
    }

    pub fn parse(text: &str) -> Option<SecondFactorState> {
        match text {
            "pending" => Some(SecondFactorState::Pending),
            "enabled" => Some(SecondFactorState::Enabled),
            _ => None,
        }
    }
}

/// A user's second factor as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecondFactorRecord {
    pub user: UserId,
    pub state: SecondFactorState,
    pub sealed: SealedSecret,
    pub created_at_ms: i64,
    pub enabled_at_ms: Option<i64>,
    /// The last time step whose code was accepted.
    pub last_used_step: Option<i64>,
}

/// Whether a code may be tried now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondFactorAttempt {
    /// Try it; it counts as wrong until
    /// [`SecondFactorStore::forget_second_factor_attempt`] (it was right).
    Allowed { attempt: i64 },
    /// Too many wrong codes; one leaves the window at `until_ms`.
    Locked { until_ms: i64 },
}

/// The second factor's tables.
#[async_trait]
pub trait SecondFactorStore: Send + Sync {
    /// The user's second factor, pending or enabled.
    async fn second_factor(&self, user: UserId) -> Result<Option<SecondFactorRecord>, StoreError>;

    /// Stores a pending enrolment, replacing a pending one; never replaces
    /// an enabled one (`false`).
    async fn put_pending_second_factor(
        &self,
        record: &SecondFactorRecord,
    ) -> Result<bool, StoreError>;

    /// Pending → enabled, if it is still the pending enrolment sealed with
    /// `nonce`; `step` is taken as used and the recovery code hashes
    /// replace any earlier ones, in one transaction. `false`: changed
    /// meanwhile.
    async fn enable_second_factor(
        &self,
        user: UserId,
        nonce: &[u8],
        step: i64,
        recovery_hashes: &[[u8; RECOVERY_HASH_BYTES]],
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Takes time step `step` if it is later than the last one used:
    /// `false` if this code (or a later one) was already used.
    async fn use_second_factor_step(&self, user: UserId, step: i64) -> Result<bool, StoreError>;

    /// Takes an unused recovery code with this hash: `false` if there is
    /// none (wrong, or used already).
    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &[u8; RECOVERY_HASH_BYTES],
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Recovery codes not used yet.
    async fn recovery_codes_left(&self, user: UserId) -> Result<u32, StoreError>;

    /// Removes the second factor and its recovery codes: `false` if there
    /// was none.
    async fn remove_second_factor(&self, user: UserId) -> Result<bool, StoreError>;

    /// Counts a code about to be checked: refused when `max` wrong codes
    /// were given in the last `window_ms`; checked and recorded one at a
    /// time per user.
    async fn begin_second_factor_attempt(
        &self,
        user: UserId,
        now_ms: i64,
        window_ms: i64,
        max: u32,
    ) -> Result<SecondFactorAttempt, StoreError>;

    /// The code of `attempt` was right: it does not count as wrong.
    async fn forget_second_factor_attempt(&self, attempt: i64) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests;
