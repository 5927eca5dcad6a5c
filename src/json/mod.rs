//! JSON text, read three ways:
//!
//! - [`scan`]: stepping over text byte by byte (where a value, a string, an object or an
//!   array ends; an object's members, an array's items). The one scanner: the mutation's
//!   splicing, the path of a reading error and the settings' view step over text through it.
//! - [`read`]: reading JSON into the policy's typed views (serde), with the path of what is
//!   wrong when it fails ([`JsonError`]).
//! - [`view`]: a borrowed, untyped view of checked text (a value's shape, its members, its
//!   items, a string unescaped), what the settings are read through.

pub mod read;
pub mod scan;
pub mod view;

pub use read::{from_slice, from_str, JsonError, JsonErrorKind};
