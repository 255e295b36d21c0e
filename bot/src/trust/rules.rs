//! (to be written: see `super`).

/// This area's settings.
#[derive(Debug, Clone, Default)]
pub struct RulesPolicy {}
