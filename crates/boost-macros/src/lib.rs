//! Derive macros for team-boost settings types. Use them through
//! `boost_config` (or `boost::config`), which documents them:
//! `#[derive(Validate, Document)]`.
//!
//! Written by hand because they are specific to the kit's two traits; they
//! only read field names, serde's `rename`/`flatten`/`skip` and doc comments.
#![deny(missing_docs)]

mod attrs;
mod document;
mod validate;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `Validate` by validating every field under its key
/// (`problems.check("field", &self.field)`), then running the optional
/// `#[validate(custom = path)]` function `fn(&Self, &mut Problems)` for rules
/// across fields. `#[validate(skip)]` (or `#[serde(skip)]`) leaves a field out;
/// `#[serde(flatten)]` fields are validated without a key of their own.
#[proc_macro_derive(Validate, attributes(validate))]
pub fn derive_validate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    validate::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `Document`: each field's `///` comment under its key, then the
/// keys of the field's own type below it.
#[proc_macro_derive(Document, attributes(validate))]
pub fn derive_document(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    document::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
