//! `[trust.verification]` (to be written): the verification provider's
//! callback.

use serde::Deserialize;

/// `[trust.verification]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationSettings {}
