//! The item under the attribute: a function with a body (free, in an `impl` block, or a trait method with a
//! default body), checked for what `#[measured]` cannot measure, with errors on the offending token.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Block, ReturnType, Signature, Token, Type, TypeParamBound, Visibility};

/// A function `#[measured]` can rewrite.
pub(crate) struct Function {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    /// `default` in a specialising impl (nightly), kept as it is.
    pub(crate) defaultness: Option<Token![default]>,
    pub(crate) sig: Signature,
    pub(crate) block: Block,
}

/// What the function returns, as far as measuring goes.
pub(crate) enum Shape {
    /// `async fn`: measured from the first poll to completion.
    Async,
    /// A sync fn returning `impl Future`: measured from the call until the returned future completes.
    ReturnsFuture,
    /// A sync fn returning `Pin<Box<dyn Future>>` (what `#[async_trait]` makes of an `async fn`), `BoxFuture` or
    /// `LocalBoxFuture`: as `ReturnsFuture`, boxing the measuring future in turn.
    ReturnsBoxedFuture,
    /// Any other sync fn: measured around the body.
    Sync,
}

impl Function {
    pub(crate) fn shape(&self) -> Shape {
        if self.sig.asyncness.is_some() {
            Shape::Async
        } else if returns_impl_future(&self.sig.output) {
            Shape::ReturnsFuture
        } else if returns_boxed_future(&self.sig.output) {
            Shape::ReturnsBoxedFuture
        } else {
            Shape::Sync
        }
    }

    /// The return type when it can be written in a `let` or a turbofish (not when it contains `impl Trait`).
    pub(crate) fn nameable_output(&self) -> Option<TokenStream> {
        match &self.sig.output {
            ReturnType::Default => Some(quote::quote!(())),
            ReturnType::Type(_, ty) if contains_impl_trait(ty) => None,
            ReturnType::Type(_, ty) => Some(ty.to_token_stream()),
        }
    }
}

impl Parse for Function {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let defaultness: Option<Token![default]> = input.parse()?;
        if !starts_a_function(input) {
            let found = input.fork().parse::<proc_macro2::TokenTree>().ok();
            let hint = match &found {
                Some(proc_macro2::TokenTree::Ident(i)) if i == "impl" => {
                    "; put it on the methods of the impl block instead"
                }
                Some(proc_macro2::TokenTree::Ident(i)) if i == "trait" => {
                    "; put it on the methods of the trait's impl blocks instead"
                }
                _ => "",
            };
            let found: TokenStream = found.map(Into::into).unwrap_or_default();
            return Err(syn::Error::new_spanned(
                found,
                format!("#[measured] can only be applied to functions and methods{hint}"),
            ));
        }
        let sig: Signature = input.parse()?;
        check_signature(&sig)?;
        if input.peek(Token![;]) {
            return Err(syn::Error::new_spanned(
                &sig.ident,
                "#[measured] needs a function body: put it on the method in the impl block, not on the trait's \
                 declaration",
            ));
        }
        let block: Block = input.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the function"));
        }
        Ok(Function { attrs, vis, defaultness, sig, block })
    }
}

fn starts_a_function(input: ParseStream<'_>) -> bool {
    let fork = input.fork();
    let _ = fork.parse::<Option<Token![const]>>();
    let _ = fork.parse::<Option<Token![async]>>();
    let _ = fork.parse::<Option<Token![unsafe]>>();
    let _ = fork.parse::<Option<syn::Abi>>();
    fork.peek(Token![fn])
}

fn check_signature(sig: &Signature) -> syn::Result<()> {
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new_spanned(
            constness,
            "#[measured] does not support `const fn`: a const fn cannot read the clock or record metrics",
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        return Err(syn::Error::new_spanned(
            unsafety,
            "#[measured] does not support `unsafe fn`: measure a safe function that wraps it",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new_spanned(
            abi,
            "#[measured] does not support `extern` functions: measure a Rust function that the extern one calls",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(variadic, "#[measured] does not support variadic functions"));
    }
    if let ReturnType::Type(_, ty) = &sig.output
        && let Type::Never(never) = &**ty
    {
        return Err(syn::Error::new_spanned(
            never,
            "#[measured] does not support functions that never return (`-> !`): there is no call end to record",
        ));
    }
    Ok(())
}

/// `-> impl Future<Output = T> [+ Send + 'a]`, with `Future` spelled by any path (`std::future::Future`).
fn returns_impl_future(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else { return false };
    let Type::ImplTrait(impl_trait) = &**ty else { return false };
    impl_trait.bounds.iter().any(|bound| match bound {
        TypeParamBound::Trait(t) => t.path.segments.last().is_some_and(|s| s.ident == "Future"),
        _ => false,
    })
}

/// `Pin<Box<dyn Future<Output = T> + ...>>` (any paths), `BoxFuture<'a, T>` or `LocalBoxFuture<'a, T>`.
fn returns_boxed_future(output: &ReturnType) -> bool {
    fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
        match ty {
            Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
            _ => None,
        }
    }
    fn first_type_argument(segment: &syn::PathSegment) -> Option<&Type> {
        match &segment.arguments {
            syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
                syn::GenericArgument::Type(ty) => Some(ty),
                _ => None,
            }),
            _ => None,
        }
    }
    let ReturnType::Type(_, ty) = output else { return false };
    let Some(outer) = last_segment(ty) else { return false };
    if outer.ident == "BoxFuture" || outer.ident == "LocalBoxFuture" {
        return true;
    }
    if outer.ident != "Pin" {
        return false;
    }
    let Some(boxed) = first_type_argument(outer).and_then(last_segment) else { return false };
    if boxed.ident != "Box" {
        return false;
    }
    match first_type_argument(boxed) {
        Some(Type::TraitObject(object)) => object.bounds.iter().any(|bound| match bound {
            TypeParamBound::Trait(t) => t.path.segments.last().is_some_and(|s| s.ident == "Future"),
            _ => false,
        }),
        _ => false,
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    fn scan(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|tree| match tree {
            proc_macro2::TokenTree::Ident(ident) => ident == "impl",
            proc_macro2::TokenTree::Group(group) => scan(group.stream()),
            _ => false,
        })
    }
    scan(ty.to_token_stream())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: &str) -> syn::Result<Function> {
        syn::parse_str::<Function>(tokens)
    }

    fn error(tokens: &str) -> String {
        match parse(tokens) {
            Ok(_) => panic!("`{tokens}` parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn recognises_the_shapes() {
        assert!(matches!(parse("async fn f(&self) -> u8 { 1 }").unwrap().shape(), Shape::Async));
        assert!(matches!(
            parse("fn f() -> impl std::future::Future<Output = u8> + Send { async { 1 } }").unwrap().shape(),
            Shape::ReturnsFuture
        ));
        assert!(matches!(
            parse("pub(crate) fn f() -> impl Iterator<Item = u8> { None.into_iter() }").unwrap().shape(),
            Shape::Sync
        ));
        assert!(matches!(parse("#[inline] fn f() {}").unwrap().shape(), Shape::Sync));
        for boxed in [
            "fn f(&self) -> Pin<Box<dyn Future<Output = u8> + Send + '_>> { todo!() }",
            "fn f(&self) -> std::pin::Pin<std::boxed::Box<dyn std::future::Future<Output = u8>>> { todo!() }",
            "fn f<'a>(&'a self) -> BoxFuture<'a, u8> { todo!() }",
            "fn f<'a>(&'a self) -> futures::future::LocalBoxFuture<'a, u8> { todo!() }",
        ] {
            assert!(matches!(parse(boxed).unwrap().shape(), Shape::ReturnsBoxedFuture), "{boxed}");
        }
        for not_boxed in [
            "fn f() -> Pin<Box<dyn Iterator<Item = u8>>> { todo!() }",
            "fn f() -> Pin<&mut dyn Future<Output = u8>> { todo!() }",
            "fn f() -> Box<dyn Future<Output = u8>> { todo!() }",
        ] {
            assert!(matches!(parse(not_boxed).unwrap().shape(), Shape::Sync), "{not_boxed}");
        }
    }

    #[test]
    fn names_the_output_when_it_can() {
        let output = |s: &str| parse(s).unwrap().nameable_output().map(|t| t.to_string());
        assert_eq!(output("fn f() {}").as_deref(), Some("()"));
        assert_eq!(output("fn f(&self) -> Result<&str, E> { todo!() }").as_deref(), Some("Result < & str , E >"));
        assert_eq!(output("fn f() -> Box<impl Fn()> { todo!() }"), None);
    }

    #[test]
    fn rejects_what_cannot_be_measured() {
        assert!(error("struct S;").contains("only be applied to functions"));
        assert!(error("impl S { fn f() {} }").contains("methods of the impl block"));
        assert!(error("trait T { fn f(); }").contains("trait's impl blocks"));
        assert!(error("fn f(&self);").contains("needs a function body"));
        assert!(error("const fn f() {}").contains("`const fn`"));
        assert!(error("unsafe fn f() {}").contains("`unsafe fn`"));
        assert!(error("extern \"C\" fn f() {}").contains("`extern`"));
        assert!(error("fn f() -> ! { loop {} }").contains("never return"));
    }
}
