//! What the JVM answered to `load` (a leaf: the protocol parses it, errors
//! carry it).

/// The agent's answer to `load`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReply {
    /// Agent_OnAttach's return value.
    pub return_code: i32,
    /// Anything else the JVM said (warnings, error text), raw: escape it
    /// before showing it.
    pub messages: String,
}
