//! Param definitions (`connection_config`, `credentials`): types, Rust names, patterns and
//! examples; declared params first, then the ones the entry implies.

use std::collections::BTreeMap;

use terapi_model::Section;
use terapi_model::rules::UPPER_SNAKE_CASE_PATTERNS;

use crate::diagnostic::Diagnostic;
use crate::lower::{Located, Map};
use crate::model::FieldDef;
use crate::model::ImpliedParam;
use crate::names;
use crate::pattern::{self, PatternError};
use crate::plan::{ParamPlan, RulePlan};
use crate::rules::Rule;
use crate::yaml::Loc;

use super::Checker;

/// Characters that mark an example as masked (`sk_****`, `•••`, `…`): not checked against
/// its pattern.
const MASKS: &[&str] = &["*", "\u{2022}", "\u{2026}", "...", "xxx", "XXX"];

impl<'a> Checker<'a> {
    /// The params of one section: the declared ones in file order, then the implied ones.
    /// `platform_filled` params are optional inputs.
    pub(super) fn params(
        &mut self,
        section: Section,
        declared: Option<&'a Map<FieldDef>>,
        implied: &'a [ImpliedParam],
        platform_filled: &[String],
    ) -> Vec<ParamPlan<'a>> {
        let mut fields: BTreeMap<String, (&str, Loc)> = BTreeMap::new();
        let mut out = Vec::new();
        for (key, e) in declared.iter().flat_map(|m| m.iter()) {
            let def = &e.value;
            match &def.kind {
                Some(k) if k.value == "string" => {}
                Some(k) => self.report(
                    Rule::ParamType,
                    k.loc,
                    format!(
                        "param `{key}` has `type: {}`; the only type is `string`",
                        k.value
                    ),
                ),
                None => self.report(
                    Rule::ParamType,
                    def.loc,
                    format!("param `{key}` has no `type` (add `type: string`)"),
                ),
            }
            if key.is_empty() {
                self.push(
                    Diagnostic::new(
                        Rule::InvalidName,
                        e.key_loc,
                        format!("a {section} param has an empty key"),
                    )
                    .with_help("give it a name such as `subdomain`"),
                );
                continue;
            }
            let field = names::snake(key);
            if let Some((first, first_loc)) = fields.get(&field) {
                let message = format!(
                    "{section} params `{first}` and `{key}` both map to the Rust field name `{field}`"
                );
                let d = Diagnostic::new(Rule::FieldCollision, e.key_loc, message)
                    .with_note(*first_loc, format!("`{first}` is here"))
                    .with_help("rename one of them");
                self.push(d);
            } else {
                fields.insert(field.clone(), (key, e.key_loc));
            }
            let rule = match &def.pattern {
                None => RulePlan::Any,
                Some(p) if UPPER_SNAKE_CASE_PATTERNS.contains(&p.value.as_str()) => {
                    RulePlan::UpperSnakeCase
                }
                Some(p) => self.pattern(key, p),
            };
            if let (RulePlan::Pattern(_, rust), Some(example)) = (&rule, &def.example) {
                self.example(key, rust, example);
            }
            out.push(ParamPlan {
                key,
                field,
                def,
                optional: def.optional.unwrap_or(false) || platform_filled.contains(key),
                secret: def.secret.unwrap_or(section == Section::Credentials),
                rule,
                origin: None,
            });
        }
        for i in implied {
            out.push(ParamPlan {
                key: &i.key,
                field: names::snake(&i.key),
                def: &i.def,
                optional: i.def.optional.unwrap_or(false),
                secret: section == Section::Credentials,
                rule: RulePlan::Any,
                origin: Some(i.origin),
            });
        }
        out
    }

    fn pattern(&mut self, key: &str, p: &'a Located<String>) -> RulePlan<'a> {
        let (rule, message) = match pattern::translate(&p.value) {
            Ok(rust) => return RulePlan::Pattern(&p.value, rust),
            Err(PatternError::Unsupported(what)) => (
                Rule::UnsupportedPattern,
                format!(
                    "the `pattern` of param `{key}` is valid ECMAScript but uses {what}: the check is dropped"
                ),
            ),
            Err(PatternError::Invalid(reason)) => (
                Rule::InvalidPattern,
                format!("the `pattern` of param `{key}` is not a valid ECMAScript regex: {reason}"),
            ),
        };
        self.push(Diagnostic::new(rule, p.loc, message).with_help(
            "rewrite the pattern; with this rule allowed or warned, any value passes this check",
        ));
        RulePlan::Any
    }

    fn example(&mut self, key: &str, rust: &pattern::Translated, example: &Located<String>) {
        if example.is_empty() || MASKS.iter().any(|m| example.contains(m)) {
            return;
        }
        let Some(re) = pattern::Compiled::new(rust) else {
            return;
        };
        if !re.is_match(example) {
            self.push(
                Diagnostic::new(
                    Rule::ExampleMismatch,
                    example.loc,
                    format!("the `example` of param `{key}` does not match its `pattern`"),
                )
                .with_help("fix the example or the pattern"),
            );
        }
    }
}
