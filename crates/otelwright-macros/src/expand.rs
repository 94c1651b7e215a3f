//! The expansion. Every path it emits starts with `::otelwright::__private`, so users need no other dependency.
//!
//! ```text
//! fn f(args) -> R {                                   // the signature is kept as it is
//!     fn __otelwright_here() -> &'static str { type_name_of_val(&__otelwright_here) }   // code.function.name
//!     static __OTELWRIGHT_SITE: Site = Site::new(__otelwright_here, name, &[constant attributes]); // .in_flight()
//!     let attributes = [KeyValue::new(key, AttributeValue::to_value(&(expr))), ...];  // per call, borrowed
//!     let span = info_span!(...);                     // with `span` only
//!     let guard = Guard::start(&__OTELWRIGHT_SITE, attributes);
//!     let value: R = call_once(move || { body });     // async fn: expect_output::<R, _>(async move { body }).await
//!     guard.finish((&Probe(&value)).__otelwright_error_type());
//!     value
//! }
//! ```
//!
//! A panic unwinds through `guard`, whose `Drop` records `error.type = panic`; a dropped future drops `guard`
//! unfinished, which records `outcome = cancelled`. A sync fn returning `impl Future` starts `guard` at the call
//! and finishes it in an `async move` block that awaits the body's future (boxed again when the function returns
//! `Pin<Box<dyn Future>>`, as `#[async_trait]` methods do).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, LitStr};

use crate::args::{Args, AttributeValue, Constant};
use crate::item::{Function, Shape};

/// Identifiers of the expansion's locals: mixed-site, so the function's body cannot see or shadow them.
struct Names {
    here: Ident,
    site: Ident,
    attributes: Ident,
    span: Ident,
    entered: Ident,
    guard: Ident,
    value: Ident,
    future: Ident,
}

impl Names {
    fn new() -> Self {
        let ident = |name: &str| Ident::new(name, Span::mixed_site());
        Names {
            here: ident("__otelwright_here"),
            site: ident("__OTELWRIGHT_SITE"),
            attributes: ident("__otelwright_attributes"),
            span: ident("__otelwright_span"),
            entered: ident("__otelwright_entered"),
            guard: ident("__otelwright_guard"),
            value: ident("__otelwright_value"),
            future: ident("__otelwright_future"),
        }
    }
}

pub(crate) fn expand(args: &Args, function: Function) -> TokenStream {
    let n = Names::new();
    let Names { here, site, attributes, span, entered, guard, value, future } = &n;
    let private = quote!(::otelwright::__private);

    let name = match &args.name {
        Some(name) => quote!(::core::option::Option::Some(#name)),
        None => quote!(::core::option::Option::None),
    };
    let constants = args.attributes.iter().filter_map(|a| match &a.value {
        AttributeValue::Constant(c) => {
            let key = &a.key;
            let value = match c {
                Constant::Str(s) => quote!(#private::Constant::Str(#s)),
                Constant::Int(i, neg) => {
                    let minus = neg.then(|| quote!(-));
                    quote!(#private::Constant::Int(#minus #i))
                }
                Constant::Float(f, neg) => {
                    let minus = neg.then(|| quote!(-));
                    quote!(#private::Constant::Float(#minus #f))
                }
                Constant::Bool(b) => quote!(#private::Constant::Bool(#b)),
            };
            Some(quote!((#key, #value)))
        }
        AttributeValue::Dynamic(_) => None,
    });
    let dynamic: Vec<(&str, &syn::Expr)> = args
        .attributes
        .iter()
        .filter_map(|a| match &a.value {
            AttributeValue::Dynamic(expr) => Some((a.key.as_str(), &**expr)),
            AttributeValue::Constant(_) => None,
        })
        .collect();
    let dynamic_values = dynamic.iter().map(|(key, expr)| {
        // Spanned by the expression, so a value of the wrong type is reported there.
        let value = quote_spanned!(expr.span()=> #private::AttributeValue::to_value(&(#expr)));
        quote!(#private::KeyValue::new(#private::Key::from_static_str(#key), #value))
    });

    let in_flight = args.in_flight.then(|| quote!(.in_flight()));
    let setup = quote! {
        fn #here() -> &'static str {
            ::core::any::type_name_of_val(&#here)
        }
        static #site: #private::Site = #private::Site::new(#here, #name, &[#(#constants),*]) #in_flight;
        let #attributes = [#(#dynamic_values),*];
    };

    let make_span = args.span.then(|| {
        let span_name = match &args.name {
            Some(name) => name.clone(),
            None => LitStr::new(&function.sig.ident.to_string(), function.sig.ident.span()),
        };
        let fields = args.attributes.iter().map(|a| {
            let key = &a.key;
            match &a.value {
                AttributeValue::Constant(Constant::Str(s)) => quote!(#key = #s),
                AttributeValue::Constant(Constant::Int(i, neg)) => {
                    let minus = neg.then(|| quote!(-));
                    quote!(#key = #minus #i)
                }
                AttributeValue::Constant(Constant::Float(f, neg)) => {
                    let minus = neg.then(|| quote!(-));
                    quote!(#key = #minus #f)
                }
                AttributeValue::Constant(Constant::Bool(b)) => quote!(#key = #b),
                AttributeValue::Dynamic(_) => {
                    let index = dynamic.iter().position(|(k, _)| k == key).unwrap_or_default();
                    quote!(#key = #private::tracing::field::display(&#attributes[#index].value))
                }
            }
        });
        quote! {
            let #span = #private::tracing::info_span!(
                #span_name,
                "code.function.name" = #site.function_name(),
                #(#fields,)*
            );
        }
    });
    let enter_span = args.span.then(|| quote!(let #entered = #span.enter();));

    let classify = quote! {{
        #[allow(unused_imports)]
        use #private::{ProbeOutcome as _, ProbePlain as _};
        (&#private::Probe(&#value)).__otelwright_error_type()
    }};
    let start = quote!(let #guard = #private::Guard::start(&#site, #attributes););
    let output = function.nameable_output();
    let annotation = output.as_ref().map(|ty| quote!(: #ty));
    let block = &function.block;

    let body = match function.shape() {
        Shape::Sync => quote! {
            #setup
            #make_span
            #enter_span
            #start
            let #value #annotation = #private::call_once(move || #block);
            #guard.finish(#classify);
            #value
        },
        Shape::Async => {
            let inner = match &output {
                Some(ty) => quote!(#private::expect_output::<#ty, _>(async move #block)),
                None => quote!(async move #block),
            };
            let inner = match args.span {
                true => quote!(#private::Instrument::instrument(#inner, #span)),
                false => inner,
            };
            quote! {
                #setup
                #make_span
                #start
                let #value #annotation = #inner.await;
                #guard.finish(#classify);
                #value
            }
        }
        Shape::ReturnsFuture | Shape::ReturnsBoxedFuture => {
            let awaited = match args.span {
                true => quote!(#private::Instrument::instrument(#future, #span)),
                false => quote!(#future),
            };
            let measuring = quote! {
                async move {
                    let #value = #awaited.await;
                    #guard.finish(#classify);
                    #value
                }
            };
            let measuring = match function.shape() {
                Shape::ReturnsBoxedFuture => quote!(#private::box_pin(#measuring)),
                _ => measuring,
            };
            quote! {
                #setup
                #make_span
                #start
                let #future = {
                    #enter_span
                    #private::call_once(move || #block)
                };
                #measuring
            }
        }
    };

    let Function { attrs, vis, defaultness, sig, .. } = function;
    quote! {
        #(#attrs)*
        #vis #defaultness #sig {
            #body
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(args: &str, item: &str) -> syn::ItemFn {
        let args: Args = syn::parse_str(args).unwrap();
        let function: Function = syn::parse_str(item).unwrap();
        syn::parse2(expand(&args, function)).expect("the expansion is a function")
    }

    fn render(f: &syn::ItemFn) -> String {
        quote!(#f).to_string()
    }

    /// Every absolute path (`::x`) in the expansion is `::otelwright::__private::...` or `::core::...`.
    fn assert_paths_are_private(f: &syn::ItemFn) {
        fn flatten(tokens: TokenStream, out: &mut Vec<proc_macro2::TokenTree>) {
            for tree in tokens {
                match tree {
                    proc_macro2::TokenTree::Group(g) => flatten(g.stream(), out),
                    other => out.push(other),
                }
            }
        }
        let mut trees = Vec::new();
        flatten(quote!(#f), &mut trees);
        let is_colon = |t: &proc_macro2::TokenTree| matches!(t, proc_macro2::TokenTree::Punct(p) if p.as_char() == ':');
        let mut checked = 0;
        for i in 1..trees.len().saturating_sub(3) {
            let after_other_punct =
                matches!(&trees[i - 1], proc_macro2::TokenTree::Punct(p) if !matches!(p.as_char(), ':' | '>'));
            let leading = is_colon(&trees[i]) && is_colon(&trees[i + 1]) && after_other_punct;
            if leading {
                let root = trees[i + 2].to_string();
                let next = trees.get(i + 5).map(ToString::to_string).unwrap_or_default();
                assert!(root == "core" || (root == "otelwright" && next == "__private"), "path ::{root}::{next}");
                checked += 1;
            }
        }
        assert!(checked >= 4, "found the paths");
    }

    #[test]
    fn keeps_the_signature_and_attributes() {
        let f = expand_str("", "#[inline] #[must_use] pub(crate) fn add<T: Copy>(a: T) -> T where T: Send { a }");
        let (attrs, vis) = (&f.attrs, &f.vis);
        assert_eq!(quote!(#(#attrs)*).to_string(), quote!(#[inline] #[must_use]).to_string());
        assert_eq!(quote!(#vis).to_string(), "pub (crate)");
        let sig = &f.sig;
        assert_eq!(quote!(#sig).to_string(), "fn add < T : Copy > (a : T) -> T where T : Send");
    }

    #[test]
    fn sync_bodies_run_in_a_closure_typed_by_the_return_type() {
        let f = expand_str("", "fn get(&self) -> Result<&str, E> { Ok(&self.name) }");
        let text = render(&f);
        assert!(text.contains("let __otelwright_value : Result < & str , E > = :: otelwright :: __private :: call_once (move | | { Ok (& self . name) })"), "{text}");
        assert!(text.contains("Guard :: start (& __OTELWRIGHT_SITE , __otelwright_attributes)"), "{text}");
        assert!(
            text.contains("Site :: new (__otelwright_here , :: core :: option :: Option :: None , & [])"),
            "{text}"
        );
        assert!(!text.contains("info_span"), "no span unless asked: {text}");
        assert_paths_are_private(&f);

        let f = expand_str("", "fn iter(&self) -> impl Iterator<Item = u8> + '_ { self.v.iter().copied() }");
        assert!(render(&f).contains("let __otelwright_value = :: otelwright :: __private :: call_once"), "not named");
    }

    #[test]
    fn async_bodies_are_an_async_block_with_the_output_pinned() {
        let f = expand_str(
            r#"name = "agent.run", span, attributes(agent.kind = self.kind, tier = "gold", n = -2)"#,
            "pub async fn run(&self, prompt: &str) -> Result<usize, AgentError> { Ok(prompt.len()) }",
        );
        assert!(f.sig.asyncness.is_some());
        let text = render(&f);
        assert!(text.contains("Site :: new (__otelwright_here , :: core :: option :: Option :: Some (\"agent.run\") , & [(\"tier\" , :: otelwright :: __private :: Constant :: Str (\"gold\")) , (\"n\" , :: otelwright :: __private :: Constant :: Int (- 2))])"), "{text}");
        assert!(text.contains("let __otelwright_attributes = [:: otelwright :: __private :: KeyValue :: new (:: otelwright :: __private :: Key :: from_static_str (\"agent.kind\") , :: otelwright :: __private :: AttributeValue :: to_value (& (self . kind)))]"), "{text}");
        assert!(text.contains("info_span ! (\"agent.run\" , \"code.function.name\" = __OTELWRIGHT_SITE . function_name () , \"agent.kind\" = :: otelwright :: __private :: tracing :: field :: display (& __otelwright_attributes [0usize] . value) , \"tier\" = \"gold\" , \"n\" = - 2 ,)"), "{text}");
        assert!(text.contains(":: otelwright :: __private :: Instrument :: instrument (:: otelwright :: __private :: expect_output :: < Result < usize , AgentError > , _ > (async move { Ok (prompt . len ()) }) , __otelwright_span) . await"), "{text}");
        assert_paths_are_private(&f);
    }

    #[test]
    fn futures_returned_by_sync_functions_are_measured_to_completion() {
        let f = expand_str(
            "span",
            "fn later(n: u32) -> impl std::future::Future<Output = u32> + Send { async move { n } }",
        );
        let text = render(&f);
        assert!(text.contains("info_span ! (\"later\""), "the span is named after the function: {text}");
        assert!(text.contains("let __otelwright_future = { let __otelwright_entered = __otelwright_span . enter () ; :: otelwright :: __private :: call_once (move | | { async move { n } }) } ; async move { let __otelwright_value = :: otelwright :: __private :: Instrument :: instrument (__otelwright_future , __otelwright_span) . await ;"), "{text}");
        assert!(text.ends_with("__otelwright_value } }"), "{text}");
        assert_paths_are_private(&f);

        let f = expand_str(
            "",
            "fn boxed(&self) -> Pin<Box<dyn Future<Output = u32> + Send + '_>> { Box::pin(async { 1 }) }",
        );
        let text = render(&f);
        assert!(text.contains(":: otelwright :: __private :: box_pin (async move { let __otelwright_value = __otelwright_future . await ;"), "{text}");
        assert_paths_are_private(&f);
    }
}
