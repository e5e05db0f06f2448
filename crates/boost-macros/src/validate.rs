//! `#[derive(Validate)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::attrs::{Shape, config_crate, custom_rule, shape};

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let krate = config_crate();
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let checks: Vec<TokenStream> = match shape(input)? {
        Shape::Choice => Vec::new(),
        Shape::Struct(fields) => fields
            .iter()
            .filter(|f| !f.skip)
            .map(|f| {
                let ident = f.ident;
                if f.flatten {
                    quote!(#krate::Validate::validate(&self.#ident, problems);)
                } else {
                    let key = &f.key;
                    quote!(problems.check(#key, &self.#ident);)
                }
            })
            .collect(),
    };
    let custom = custom_rule(&input.attrs)?.map(|rule| quote!(#rule(self, problems);));
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Validate for #name #ty_generics #where_clause {
            fn validate(&self, problems: &mut #krate::Problems) {
                let _ = &problems;
                #(#checks)*
                #custom
            }
        }
    })
}
