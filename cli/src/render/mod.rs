//! Renderers: the report in every form people and tools read it. Each
//! takes the [`crate::report::Report`] and nothing else, and only they
//! write English ([`wording`] holds the sentences they share).
//!
//! `text` (tables for people), `json` (docs/report.md), `html` (one
//! self-contained page), `flame` (folded stacks and SVG), `check` (the CI
//! gate's lines) and `live` (the `top`/`live` screen); `metaspace` draws
//! Metaspace in bytes for the text and HTML reports.

pub mod check;
pub mod flame;
pub mod html;
pub mod json;
pub mod live;
pub mod metaspace;
pub mod text;
pub mod wording;
