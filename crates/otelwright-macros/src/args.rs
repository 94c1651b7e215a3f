//! The attribute's arguments: `name = "..."`, `span`, `in_flight`, `attributes(key = value, ...)`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, LitStr, Token};

/// Keys otelwright sets itself; declaring them would produce two values for one key.
const RESERVED: [&str; 4] = ["code.function.name", "function.name", "outcome", "error.type"];

/// The parsed `#[measured(...)]` arguments.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) span: bool,
    /// `in_flight`: a `function.calls.active` up-down counter of the calls in progress.
    pub(crate) in_flight: bool,
    pub(crate) attributes: Vec<Attribute>,
}

/// One declared attribute.
pub(crate) struct Attribute {
    /// The key as written to the exporter (`agent.id`).
    pub(crate) key: String,
    /// Where the key was written, for errors.
    pub(crate) key_span: Span,
    pub(crate) value: AttributeValue,
}

pub(crate) enum AttributeValue {
    /// A literal: computed once per function.
    Constant(Constant),
    /// Any other expression: evaluated from the arguments on each call.
    Dynamic(Box<Expr>),
}

pub(crate) enum Constant {
    Str(LitStr),
    Int(syn::LitInt, bool),
    Float(syn::LitFloat, bool),
    Bool(syn::LitBool),
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut seen_attributes = false;
        while !input.is_empty() {
            let option: Ident = input.parse().map_err(|e| {
                syn::Error::new(e.span(), "expected `name = \"...\"`, `span`, `in_flight` or `attributes(...)`")
            })?;
            match option.to_string().as_str() {
                "name" => {
                    if args.name.is_some() {
                        return Err(syn::Error::new(option.span(), "`name` is given twice"));
                    }
                    input.parse::<Token![=]>()?;
                    let name: LitStr = input.parse().map_err(|e| {
                        syn::Error::new(e.span(), "`name` takes a string literal: `name = \"agent.run\"`")
                    })?;
                    if name.value().trim().is_empty() {
                        return Err(syn::Error::new(name.span(), "`name` must not be empty"));
                    }
                    args.name = Some(name);
                }
                "span" => {
                    if args.span {
                        return Err(syn::Error::new(option.span(), "`span` is given twice"));
                    }
                    args.span = true;
                }
                "in_flight" => {
                    if args.in_flight {
                        return Err(syn::Error::new(option.span(), "`in_flight` is given twice"));
                    }
                    args.in_flight = true;
                }
                "attributes" => {
                    if seen_attributes {
                        return Err(syn::Error::new(
                            option.span(),
                            "`attributes(...)` is given twice; list them all in one",
                        ));
                    }
                    seen_attributes = true;
                    let content;
                    syn::parenthesized!(content in input);
                    let list = Punctuated::<Attribute, Token![,]>::parse_terminated(&content)?;
                    for attribute in list {
                        if args.attributes.iter().any(|a| a.key == attribute.key) {
                            return Err(syn::Error::new(
                                attribute.key_span,
                                format!("attribute `{}` is declared twice", attribute.key),
                            ));
                        }
                        args.attributes.push(attribute);
                    }
                }
                other => {
                    return Err(syn::Error::new(
                        option.span(),
                        format!(
                            "unknown option `{other}`: expected `name = \"...\"`, `span`, `in_flight` or `attributes(...)`"
                        ),
                    ));
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

impl Parse for Attribute {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let (key, key_span) = if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            (lit.value(), lit.span())
        } else {
            let first = key_segment(input)?;
            let mut key = unraw(&first);
            let mut span = first.span();
            while input.peek(Token![.]) {
                input.parse::<Token![.]>()?;
                let part = key_segment(input)?;
                key.push('.');
                key.push_str(&unraw(&part));
                span = span.join(part.span()).unwrap_or(span);
            }
            (key, span)
        };
        if key.is_empty() {
            return Err(syn::Error::new(key_span, "an attribute key must not be empty"));
        }
        if RESERVED.contains(&key.as_str()) {
            return Err(syn::Error::new(
                key_span,
                format!("`{key}` is set by #[measured] itself; choose another attribute key"),
            ));
        }
        input
            .parse::<Token![=]>()
            .map_err(|_| syn::Error::new(key_span, format!("expected `=` and a value after attribute key `{key}`")))?;
        let value: Expr = input.parse()?;
        Ok(Attribute { key, key_span, value: AttributeValue::classify(value) })
    }
}

impl AttributeValue {
    fn classify(value: Expr) -> Self {
        let (lit, negative) = match &value {
            Expr::Lit(lit) => (&lit.lit, false),
            Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Neg(_)) => match &*unary.expr {
                Expr::Lit(lit) if matches!(lit.lit, Lit::Int(_) | Lit::Float(_)) => (&lit.lit, true),
                _ => return AttributeValue::Dynamic(Box::new(value)),
            },
            _ => return AttributeValue::Dynamic(Box::new(value)),
        };
        match lit {
            Lit::Str(s) => AttributeValue::Constant(Constant::Str(s.clone())),
            Lit::Int(i) => AttributeValue::Constant(Constant::Int(i.clone(), negative)),
            Lit::Float(f) => AttributeValue::Constant(Constant::Float(f.clone(), negative)),
            Lit::Bool(b) => AttributeValue::Constant(Constant::Bool(b.clone())),
            _ => AttributeValue::Dynamic(Box::new(value)),
        }
    }
}

fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
}

/// A key segment; keywords are fine (`http.type`).
fn key_segment(input: ParseStream<'_>) -> syn::Result<Ident> {
    use syn::ext::IdentExt;
    Ident::parse_any(input).map_err(|e| {
        syn::Error::new(e.span(), "expected an attribute key: `key = value`, `a.b = value` or `\"a.b\" = value`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: &str) -> syn::Result<Args> {
        syn::parse_str::<Args>(tokens)
    }

    fn error(tokens: &str) -> String {
        match parse(tokens) {
            Ok(_) => panic!("`{tokens}` parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_every_option() {
        let args = parse(r#"name = "agent.run", span, attributes(agent.id = agent.id, "llm.model" = self.model, tier = "gold", n = -3, on = true, r#type = 1.5)"#).unwrap();
        assert_eq!(args.name.unwrap().value(), "agent.run");
        assert!(args.span);
        let keys: Vec<&str> = args.attributes.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["agent.id", "llm.model", "tier", "n", "on", "type"]);
        assert!(matches!(args.attributes[0].value, AttributeValue::Dynamic(_)));
        assert!(matches!(args.attributes[1].value, AttributeValue::Dynamic(_)));
        assert!(matches!(args.attributes[2].value, AttributeValue::Constant(Constant::Str(_))));
        assert!(matches!(args.attributes[3].value, AttributeValue::Constant(Constant::Int(_, true))));
        assert!(matches!(args.attributes[4].value, AttributeValue::Constant(Constant::Bool(_))));
        assert!(matches!(args.attributes[5].value, AttributeValue::Constant(Constant::Float(_, false))));
    }

    #[test]
    fn empty_arguments_and_a_trailing_comma_are_fine() {
        let args = parse("").unwrap();
        assert!(args.name.is_none() && !args.span && args.attributes.is_empty());
        assert!(parse("span,").unwrap().span);
        assert_eq!(parse("attributes(a = 1,)").unwrap().attributes.len(), 1);
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        assert!(error("nam = \"x\"").contains("unknown option `nam`"));
        assert!(error("name = x").contains("string literal"));
        assert!(error("name = \"\"").contains("must not be empty"));
        assert!(error("name = \"a\", name = \"b\"").contains("twice"));
        assert!(error("span, span").contains("twice"));
        assert!(error("attributes(a = 1), attributes(b = 2)").contains("twice"));
        assert!(error("attributes(a = 1, a = 2)").contains("declared twice"));
        assert!(error("attributes(outcome = 1)").contains("set by #[measured] itself"));
        assert!(error("attributes(error.type = 1)").contains("set by #[measured] itself"));
        assert!(error("attributes(a)").contains("expected `=`"));
        assert!(error("attributes(\"\" = 1)").contains("must not be empty"));
        assert!(error("\"span\"").contains("expected `name"));
    }
}
