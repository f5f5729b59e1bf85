//! The `#[pgsec_testkit::test]` attribute. Use it through `pgsec-testkit`, which
//! re-exports it and documents it (`pgsec_testkit::test`); this crate holds only the
//! expansion.

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, ReturnType};

/// Turns an `async fn` into a test that receives a fresh database of the shared test
/// server. See `pgsec_testkit::test` for the documentation.
#[proc_macro_attribute]
pub fn test(
    attr: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    match expand(attr.into(), item.into(), manifest_dir.as_deref()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// The attribute's options, files already read.
#[derive(Default)]
struct Options {
    /// The directory as written and its `*.sql` files in name order.
    migrations: Option<(LitStr, Vec<PathBuf>)>,
    fixtures: Vec<(LitStr, PathBuf)>,
}

fn resolve(base: Option<&Path>, lit: &LitStr) -> syn::Result<PathBuf> {
    let value = lit.value();
    if value.is_empty() {
        return Err(syn::Error::new(lit.span(), "the path is empty"));
    }
    let path = Path::new(&value);
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    match base {
        Some(base) => Ok(base.join(path)),
        None => Err(syn::Error::new(
            lit.span(),
            "CARGO_MANIFEST_DIR is not set, so a relative path cannot be resolved: build with \
             cargo or give an absolute path",
        )),
    }
}

fn parse_options(attr: TokenStream, base: Option<&Path>) -> syn::Result<Options> {
    let mut opts = Options::default();
    let mut seen_fixtures = false;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("migrations") {
            if opts.migrations.is_some() {
                return Err(meta.error("`migrations` is given twice"));
            }
            let lit: LitStr = meta.value()?.parse()?;
            let dir = resolve(base, &lit)?;
            let entries = std::fs::read_dir(&dir).map_err(|e| {
                syn::Error::new(
                    lit.span(),
                    format!(
                        "cannot read the migrations directory {}: {e} (the path is relative to \
                         the crate's Cargo.toml)",
                        dir.display()
                    ),
                )
            })?;
            let mut files = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|e| {
                    syn::Error::new(lit.span(), format!("cannot list {}: {e}", dir.display()))
                })?;
                let path = entry.path();
                if path.extension().is_some_and(|x| x == "sql") && path.is_file() {
                    files.push(path);
                }
            }
            if files.is_empty() {
                return Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "the migrations directory {} holds no `*.sql` file",
                        dir.display()
                    ),
                ));
            }
            files.sort();
            opts.migrations = Some((lit, files));
            Ok(())
        } else if meta.path.is_ident("fixtures") {
            if seen_fixtures {
                return Err(meta.error("`fixtures` is given twice"));
            }
            seen_fixtures = true;
            let value = meta.value()?;
            let content;
            syn::bracketed!(content in value);
            let lits = content.parse_terminated(|p| p.parse::<LitStr>(), syn::Token![,])?;
            for lit in lits {
                let path = resolve(base, &lit)?;
                if !path.is_file() {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!(
                            "fixture {} is not a file (the path is relative to the crate's \
                             Cargo.toml)",
                            path.display()
                        ),
                    ));
                }
                opts.fixtures.push((lit, path));
            }
            Ok(())
        } else {
            Err(meta.error(
                "unknown option: #[pgsec_testkit::test] takes `migrations = \"dir\"` and \
                 `fixtures = [\"file.sql\", ...]`",
            ))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(opts)
}

fn path_str(path: &Path, span: Span) -> syn::Result<String> {
    path.to_str().map(str::to_owned).ok_or_else(|| {
        syn::Error::new(
            span,
            format!("the path {} is not valid UTF-8", path.display()),
        )
    })
}

/// The whole expansion, testable without a compiler.
fn expand(attr: TokenStream, item: TokenStream, base: Option<&Path>) -> syn::Result<TokenStream> {
    let opts = parse_options(attr, base)?;
    let func: ItemFn = syn::parse2(item)?;
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span,
            "#[pgsec_testkit::test] goes on an `async fn`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "#[pgsec_testkit::test] functions cannot be generic",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(
            v.span(),
            "variadic arguments are not supported",
        ));
    }

    let mut arg_names = Vec::new();
    let mut arg_lets = Vec::new();
    for (i, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = input else {
            return Err(syn::Error::new(
                input.span(),
                "#[pgsec_testkit::test] functions take no `self`",
            ));
        };
        let ty = &pt.ty;
        let name = format_ident!("__pgsec_arg{}", i);
        // Spanned at the type: an unsupported type is reported on the parameter.
        arg_lets.push(quote_spanned! {ty.span()=>
            let #name = ::pgsec_testkit::__private::take::<#ty>(&__pgsec_ctx).await;
        });
        arg_names.push(name);
    }

    let mut migrations = Vec::new();
    let mut migrations_key = String::new();
    if let Some((lit, files)) = &opts.migrations {
        migrations_key = path_str(&resolve(base, lit)?, lit.span())?;
        for f in files {
            let abs = path_str(f, lit.span())?;
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            migrations.push(quote! { (#name, ::core::include_str!(#abs)) });
        }
    }
    let mut fixtures = Vec::new();
    for (lit, path) in &opts.fixtures {
        let abs = path_str(path, lit.span())?;
        let shown = lit.value();
        fixtures.push(quote_spanned! {lit.span()=> (#shown, ::core::include_str!(#abs)) });
    }

    let attrs = &func.attrs;
    let vis = &func.vis;
    let ident = &sig.ident;
    let inputs = &sig.inputs;
    let output = match &sig.output {
        ReturnType::Default => quote!(),
        ReturnType::Type(arrow, ty) => quote!(#arrow #ty),
    };
    let block = &func.block;
    let inner = format_ident!("__pgsec_test_{}", ident);

    Ok(quote! {
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis fn #ident() {
            async fn #inner(#inputs) #output #block

            static __PGSEC_MIGRATIONS: &[(&str, &str)] = &[#(#migrations),*];
            static __PGSEC_FIXTURES: &[(&str, &str)] = &[#(#fixtures),*];
            ::pgsec_testkit::__private::run(
                ::pgsec_testkit::__private::Spec {
                    test: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
                    migrations_key: #migrations_key,
                    migrations: __PGSEC_MIGRATIONS,
                    fixtures: __PGSEC_FIXTURES,
                },
                |__pgsec_ctx| async move {
                    #(#arg_lets)*
                    ::pgsec_testkit::__private::TestReturn::into_outcome(
                        #inner(#(#arg_names),*).await
                    )
                },
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{expand, Path, TokenStream};

    fn err(attr: &str, item: &str, base: Option<&Path>) -> String {
        match expand(attr.parse().unwrap(), item.parse().unwrap(), base) {
            Ok(t) => panic!("expected an error, got {t}"),
            Err(e) => e.to_string(),
        }
    }

    fn fixtures_dir() -> tempfile_free::Dir {
        tempfile_free::Dir::new()
    }

    /// A scratch directory without a dev-dependency.
    mod tempfile_free {
        use std::path::PathBuf;

        pub(super) struct Dir(pub(super) PathBuf);

        impl Dir {
            pub(super) fn new() -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "pgsec-testkit-macros-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(p.join("migrations")).unwrap();
                std::fs::create_dir_all(p.join("empty")).unwrap();
                std::fs::write(p.join("migrations/002_b.sql"), "select 2;").unwrap();
                std::fs::write(p.join("migrations/001_a.sql"), "select 1;").unwrap();
                std::fs::write(p.join("migrations/notes.txt"), "not sql").unwrap();
                std::fs::write(p.join("seed.sql"), "select 3;").unwrap();
                Dir(p)
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn expands_with_migrations_in_name_order_and_fixtures() {
        let d = fixtures_dir();
        let out = expand(
            r#"migrations = "migrations", fixtures = ["seed.sql"]"#
                .parse()
                .unwrap(),
            "async fn t(db: pgsec_testkit::TestDatabase) { let _ = db; }"
                .parse()
                .unwrap(),
            Some(&d.0),
        )
        .unwrap()
        .to_string();
        let a = out.find("001_a.sql").expect("001 included");
        let b = out.find("002_b.sql").expect("002 included");
        assert!(a < b, "migrations in name order: {out}");
        assert!(!out.contains("notes.txt"), "only *.sql files: {out}");
        assert!(out.contains("seed.sql"), "{out}");
        assert!(out.contains(":: core :: prelude :: v1 :: test"), "{out}");
        assert!(
            out.contains("take :: < pgsec_testkit :: TestDatabase >"),
            "{out}"
        );
    }

    #[test]
    fn plain_attribute_expands_without_files() {
        let out = expand(
            TokenStream::new(),
            "async fn t() -> Result<(), String> { Ok(()) }"
                .parse()
                .unwrap(),
            None,
        )
        .unwrap()
        .to_string();
        assert!(out.contains("migrations_key : \"\""), "{out}");
    }

    #[test]
    fn errors_name_the_problem() {
        let d = fixtures_dir();
        let base = Some(d.0.as_path());
        let item = "async fn t() {}";
        assert!(err("bogus = 1", item, base).contains("unknown option"));
        assert!(err(r#"migrations = "nope""#, item, base).contains("cannot read the migrations"));
        assert!(err(r#"migrations = "empty""#, item, base).contains("no `*.sql` file"));
        assert!(err(
            r#"migrations = "migrations", migrations = "migrations""#,
            item,
            base
        )
        .contains("given twice"));
        assert!(err(r#"fixtures = ["missing.sql"]"#, item, base).contains("is not a file"));
        assert!(err(r#"fixtures = "seed.sql""#, item, base).contains("expected square brackets"));
        assert!(err(r#"migrations = "migrations""#, item, None).contains("CARGO_MANIFEST_DIR"));
        assert!(err("", "fn t() {}", base).contains("`async fn`"));
        assert!(err("", "async fn t<T>() {}", base).contains("generic"));
        assert!(err("", "struct S;", base).contains("expected `fn`"));
    }

    #[test]
    fn option_errors_point_at_the_option() {
        let d = fixtures_dir();
        let e = expand(
            r#"fixtures = ["missing.sql"]"#.parse().unwrap(),
            "async fn t() {}".parse().unwrap(),
            Some(&d.0),
        )
        .err()
        .unwrap();
        // The error's tokens carry the literal's span: its text is in the message and
        // the compile_error! is emitted once.
        let tokens = e.to_compile_error().to_string();
        assert_eq!(tokens.matches("compile_error").count(), 1, "{tokens}");
        assert!(tokens.contains("missing.sql"), "{tokens}");
    }
}
