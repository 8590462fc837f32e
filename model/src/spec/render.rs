//! Rendering a description's templates with a connection's values: the checks and escapes
//! of [`crate::render`], applied to [`TemplatePart`]s.

use std::fmt;

use serde_json::Value;
use url::Url;

use super::{NamedTemplate, ProviderSpec, TemplatePart, UrlBase, UrlSpec};
use crate::error::ValidationErrors;
use crate::now::{self, NowSpec};
use crate::render::{
    Headers, RenderContext, RenderError, Rendered, UrlHead, Var, build_url, invalid_value,
};
use crate::secret::Secret;
use crate::validate::{Fields, Section};

/// A connection's param values, by section and index into the description's params.
pub trait Values: Send + Sync {
    /// The value of param `index` of `section`; `None` when it is absent.
    fn value(&self, section: Section, index: usize) -> Option<&str>;
}

/// The values of a connection read from JSON against a description (for providers known at
/// run time): checked like generated `from_json`, secrets kept in [`Secret`].
#[derive(Clone, PartialEq, Eq)]
pub struct ParamValues {
    config: Vec<Option<Secret>>,
    credentials: Vec<Option<Secret>>,
    secret_config: Vec<bool>,
}

impl ParamValues {
    /// Validates `config` and `credentials` against `spec`'s params: every problem of both
    /// at once.
    pub fn from_json(
        spec: &ProviderSpec,
        config: &Value,
        credentials: &Value,
    ) -> Result<ParamValues, ValidationErrors> {
        let read = |section: Section, input: &Value| {
            let params = spec.params(section);
            Fields::read(section, params, input).map(|fields| {
                (0..params.len())
                    .map(|i| fields.optional_secret(i))
                    .collect::<Vec<_>>()
            })
        };
        let config_values = read(Section::ConnectionConfig, config);
        let credential_values = read(Section::Credentials, credentials);
        let (config, credentials) = crate::error::both(config_values, credential_values)?;
        Ok(ParamValues {
            config,
            credentials,
            secret_config: spec.config.iter().map(|p| p.secret).collect(),
        })
    }
}

/// Prints the non-secret connection config values only.
impl fmt::Debug for ParamValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config: Vec<Option<&str>> = self
            .config
            .iter()
            .zip(&self.secret_config)
            .map(|(v, secret)| match v {
                Some(_) if *secret => Some("***"),
                v => v.as_ref().map(Secret::expose),
            })
            .collect();
        f.debug_struct("ParamValues")
            .field("config", &config)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl Values for ParamValues {
    fn value(&self, section: Section, index: usize) -> Option<&str> {
        let values = match section {
            Section::ConnectionConfig => &self.config,
            Section::Credentials => &self.credentials,
        };
        values.get(index)?.as_ref().map(Secret::expose)
    }
}

/// What a template is rendered with.
struct Input<'a, 'c> {
    spec: &'a ProviderSpec,
    values: &'a dyn Values,
    cx: &'a RenderContext<'c>,
}

impl Input<'_, '_> {
    /// Renders parts; `Ok(None)` when a value in them is absent.
    fn parts(&self, parts: &[TemplatePart]) -> Result<Option<Rendered>, RenderError> {
        let mut out = Rendered::new();
        for part in parts {
            match part {
                TemplatePart::Lit(text) => out.text.push_str(text),
                TemplatePart::Param {
                    section,
                    index,
                    written,
                    context,
                } => {
                    let Some(text) = self.values.value(*section, *index) else {
                        return Ok(None);
                    };
                    let secret = self
                        .spec
                        .params(*section)
                        .get(*index)
                        .is_none_or(|p| p.secret);
                    out.push_value(written, text, secret, *context)?;
                }
                TemplatePart::Var {
                    var,
                    written,
                    context,
                } => {
                    let Some(text) = self.cx.var(var) else {
                        return Ok(None);
                    };
                    out.push_value(written, &text, var.is_secret(), *context)?;
                }
                TemplatePart::Obtained {
                    name,
                    written,
                    context,
                } => {
                    let Some(text) = self.cx.var(&Var::Obtained(name)) else {
                        return Ok(None);
                    };
                    out.push_value(written, &text, true, *context)?;
                }
                TemplatePart::Now {
                    offset_seconds,
                    format,
                    written,
                    context,
                } => {
                    let tokens = match format.as_deref().map(now::parse_format) {
                        None => None,
                        Some(Ok(tokens)) => Some(tokens),
                        Some(Err(_)) => {
                            return Err(invalid_value(
                                written,
                                format.as_deref().unwrap_or_default(),
                                false,
                                *context,
                            ));
                        }
                    };
                    let var = Var::Now(NowSpec {
                        offset_seconds: *offset_seconds,
                        format: tokens.as_deref(),
                    });
                    let Some(text) = self.cx.var(&var) else {
                        return Ok(None);
                    };
                    out.push_value(written, &text, false, *context)?;
                }
                TemplatePart::Call {
                    func,
                    args,
                    context,
                } => {
                    let mut rendered = Vec::with_capacity(args.len());
                    for arg in args.iter() {
                        let Some(r) = self.parts(arg)? else {
                            return Ok(None);
                        };
                        out.sensitive |= r.sensitive;
                        rendered.push(r.text);
                    }
                    if !out.push_call(*func, &rendered, *context, self.cx)? {
                        return Ok(None);
                    }
                }
            }
        }
        Ok(Some(out))
    }

    /// The first alternative whose values are all present.
    fn first(&self, template: &NamedTemplate) -> Result<Option<Rendered>, RenderError> {
        for parts in template.alternatives.iter() {
            if let Some(r) = self.parts(parts)? {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// The first param of `parts` whose value is absent, as the template writes it.
    fn missing<'p>(&self, parts: &'p [TemplatePart]) -> Option<&'p str> {
        parts.iter().find_map(|p| match p {
            TemplatePart::Param {
                section,
                index,
                written,
                ..
            } if self.values.value(*section, *index).is_none() => Some(&**written),
            _ => None,
        })
    }
}

impl ProviderSpec {
    /// Renders `templates` (this description's headers, query or token params) with
    /// `values` and `cx`: entries whose every alternative misses a value are left out, and
    /// unsafe values are errors.
    pub fn render_named(
        &self,
        templates: &[NamedTemplate],
        values: &dyn Values,
        cx: &RenderContext<'_>,
    ) -> Result<Headers, RenderError> {
        self.render_named_with(templates, values, cx, |t| t.name.clone())
    }

    /// [`ProviderSpec::render_named`] for a description that lives as long as the program
    /// (a generated `SPEC`): the names are borrowed from it, not copied.
    pub fn render_named_static(
        &'static self,
        templates: &'static [NamedTemplate],
        values: &dyn Values,
        cx: &RenderContext<'_>,
    ) -> Result<Headers, RenderError> {
        self.render_named_with(templates, values, cx, |t| {
            std::borrow::Cow::Borrowed(&*t.name)
        })
    }

    fn render_named_with<'s>(
        &'s self,
        templates: &'s [NamedTemplate],
        values: &dyn Values,
        cx: &RenderContext<'_>,
        name: impl Fn(&'s NamedTemplate) -> crate::validate::Text,
    ) -> Result<Headers, RenderError> {
        let input = Input {
            spec: self,
            values,
            cx,
        };
        let mut out = Headers::new();
        for template in templates {
            if let Some(r) = input.first(template)? {
                out.push(name(template), r);
            }
        }
        Ok(out)
    }

    /// Renders `url` (one of this description's URLs) with `values`: `None` when the URL is
    /// known as text only (it needs a credential).
    pub fn render_url(
        &self,
        url: &UrlSpec,
        values: &dyn Values,
    ) -> Option<Result<Url, RenderError>> {
        let alternatives = url.alternatives.as_ref()?;
        // URL templates hold params only, so the context is never read.
        let cx = RenderContext::at(std::time::SystemTime::UNIX_EPOCH, String::new());
        let input = Input {
            spec: self,
            values,
            cx: &cx,
        };
        let mut first_missing: Option<&str> = None;
        for alt in alternatives.iter() {
            match input.url_alternative(&url.source, alt) {
                Ok(Ok(rendered)) => return Some(Ok(rendered)),
                Ok(Err(param)) => {
                    first_missing.get_or_insert(param);
                }
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Err(RenderError::MissingValue {
            param: first_missing.unwrap_or(&url.source).to_owned(),
        }))
    }
}

impl Input<'_, '_> {
    /// `Ok(Err(param))` when a value of this alternative is absent.
    fn url_alternative<'p>(
        &self,
        source: &'p str,
        alt: &'p super::UrlAlternative,
    ) -> Result<Result<Url, &'p str>, RenderError> {
        let head = match &alt.base {
            UrlBase::Fixed { scheme, host } => {
                let Some(h) = self.parts(host)? else {
                    return Ok(Err(self.missing(host).unwrap_or(source)));
                };
                UrlHead::Fixed {
                    scheme,
                    host: h.text,
                }
            }
            UrlBase::Param(TemplatePart::Param {
                section,
                index,
                written,
                context,
            }) => {
                let Some(value) = self.values.value(*section, *index) else {
                    return Ok(Err(written));
                };
                let secret = self
                    .spec
                    .params(*section)
                    .get(*index)
                    .is_none_or(|p| p.secret);
                UrlHead::Whole {
                    param: written,
                    value,
                    secret,
                    context: *context,
                }
            }
            // A base of any other part is not made by the generator or the loader.
            UrlBase::Param(_) => return Ok(Err(source)),
        };
        let Some(rest) = self.parts(&alt.rest)? else {
            return Ok(Err(self.missing(&alt.rest).unwrap_or(source)));
        };
        build_url(source, head, &rest.text).map(Ok)
    }
}
