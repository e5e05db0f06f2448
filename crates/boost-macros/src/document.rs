//! `#[derive(Document)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::attrs::{Shape, config_crate, shape};

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let krate = config_crate();
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let shape = shape(input)?;
    let sample = match shape {
        Shape::Struct(_) => quote! {
            fn sample() -> ::core::option::Option<#krate::__toml::Table> {
                #krate::__sample::<Self>()
            }
        },
        Shape::Choice => quote!(),
    };
    let fields: Vec<TokenStream> = match shape {
        Shape::Choice => Vec::new(),
        Shape::Struct(fields) => fields
            .iter()
            .filter(|f| !f.skip)
            .map(|f| {
                let ty = f.ty;
                if f.flatten {
                    quote!(docs.flatten::<#ty>();)
                } else {
                    let (key, doc) = (&f.key, &f.doc);
                    quote!(docs.field::<#ty>(#key, #doc);)
                }
            })
            .collect(),
    };
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Document for #name #ty_generics #where_clause {
            fn document(docs: &mut #krate::Docs) {
                let _ = &docs;
                #(#fields)*
            }
            #sample
        }
    })
}
