//! What the derives read from a struct: each field's key, whether it is
//! skipped or flattened, and its doc comment.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, Data, DeriveInput, Expr, Fields, Lit, LitStr, Meta, Path, Type};

/// One field as the config file sees it.
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a syn::Ident,
    pub(crate) ty: &'a Type,
    pub(crate) key: String,
    pub(crate) skip: bool,
    pub(crate) flatten: bool,
    pub(crate) doc: String,
}

/// The shape of the type the derive is on.
pub(crate) enum Shape<'a> {
    /// A struct with named fields.
    Struct(Vec<Field<'a>>),
    /// An enum whose variants carry no data (a choice such as `"json"`).
    Choice,
}

/// The path of boost-config as the deriving crate sees it: `::boost_config`
/// when it depends on boost-config, `::boost::config` when only on the umbrella.
pub(crate) fn config_crate() -> TokenStream {
    use proc_macro_crate::{FoundCrate, crate_name};
    match crate_name("boost-config") {
        Ok(FoundCrate::Name(name)) => {
            let ident = syn::Ident::new(&name, proc_macro2::Span::call_site());
            quote!(::#ident)
        }
        Ok(FoundCrate::Itself) => quote!(::boost_config),
        Err(_) => match crate_name("boost") {
            Ok(FoundCrate::Name(name)) => {
                let ident = syn::Ident::new(&name, proc_macro2::Span::call_site());
                quote!(::#ident::config)
            }
            _ => quote!(::boost_config),
        },
    }
}

pub(crate) fn shape(input: &DeriveInput) -> syn::Result<Shape<'_>> {
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => {
                let rename_all = rename_all(&input.attrs)?;
                named
                    .named
                    .iter()
                    .map(|field| to_field(field, rename_all.as_deref()))
                    .collect::<syn::Result<_>>()
                    .map(Shape::Struct)
            }
            Fields::Unit => Ok(Shape::Struct(Vec::new())),
            Fields::Unnamed(_) => Err(syn::Error::new_spanned(
                &input.ident,
                "settings structs need named fields (each is a config key)",
            )),
        },
        Data::Enum(data) => {
            if let Some(variant) = data.variants.iter().find(|v| !v.fields.is_empty()) {
                return Err(syn::Error::new_spanned(
                    variant,
                    "derive it for enums whose variants carry no data; implement the trait by hand for others",
                ));
            }
            Ok(Shape::Choice)
        }
        Data::Union(_) => Err(syn::Error::new_spanned(
            &input.ident,
            "settings cannot be unions",
        )),
    }
}

fn to_field<'a>(field: &'a syn::Field, rename_all: Option<&str>) -> syn::Result<Field<'a>> {
    let Some(ident) = field.ident.as_ref() else {
        return Err(syn::Error::new_spanned(field, "a named field is needed"));
    };
    let name = ident.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
    let mut key = match rename_all {
        Some("kebab-case") => name.replace('_', "-"),
        _ => name,
    };
    let mut skip = false;
    let mut flatten = false;
    for attr in &field.attrs {
        if attr.path().is_ident("serde") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    // `rename = "x"`, or `rename(deserialize = "x", ..)`.
                    if meta.input.peek(syn::Token![=]) {
                        key = meta.value()?.parse::<LitStr>()?.value();
                    } else {
                        meta.parse_nested_meta(|inner| {
                            if inner.path.is_ident("deserialize") {
                                key = inner.value()?.parse::<LitStr>()?.value();
                            } else {
                                let _ = inner.value()?.parse::<LitStr>()?;
                            }
                            Ok(())
                        })?;
                    }
                } else if meta.path.is_ident("skip") || meta.path.is_ident("skip_deserializing") {
                    skip = true;
                } else if meta.path.is_ident("flatten") {
                    flatten = true;
                } else if meta.input.peek(syn::Token![=]) {
                    let _ = meta.value()?.parse::<Expr>()?;
                } else if meta.input.peek(syn::token::Paren) {
                    let _ = meta.input.parse::<proc_macro2::Group>()?;
                }
                Ok(())
            })?;
        } else if attr.path().is_ident("validate") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("skip") {
                    skip = true;
                    Ok(())
                } else {
                    Err(meta.error("unknown field option; `#[validate(skip)]` is the only one"))
                }
            })?;
        }
    }
    Ok(Field {
        ident,
        ty: &field.ty,
        key,
        skip,
        flatten,
        doc: doc(&field.attrs),
    })
}

fn rename_all(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                let value = meta.value()?.parse::<LitStr>()?;
                match value.value().as_str() {
                    "snake_case" | "kebab-case" => found = Some(value.value()),
                    _ => {
                        return Err(syn::Error::new_spanned(
                            value,
                            "settings derives understand rename_all = \"snake_case\" or \"kebab-case\"",
                        ));
                    }
                }
            } else if meta.input.peek(syn::Token![=]) {
                let _ = meta.value()?.parse::<Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                let _ = meta.input.parse::<proc_macro2::Group>()?;
            }
            Ok(())
        })?;
    }
    Ok(found)
}

/// `#[validate(custom = path)]` on the type, if given.
pub(crate) fn custom_rule(attrs: &[Attribute]) -> syn::Result<Option<Path>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("validate")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("custom") {
                found = Some(meta.value()?.parse::<Path>()?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown option; `#[validate(custom = path::to_fn)]` takes fn(&Self, &mut Problems)",
                ))
            }
        })?;
    }
    Ok(found)
}

/// The `///` lines of a doc comment, one leading space dropped from each.
fn doc(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(lit) => match &lit.lit {
                    Lit::Str(s) => Some(s.value()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .map(|line| {
            line.strip_prefix(' ')
                .unwrap_or(&line)
                .trim_end()
                .to_owned()
        })
        .collect();
    lines.join("\n").trim().to_owned()
}
