//! Rendering a run's templates and expressions, each parsed once per run.

use std::sync::RwLock;

use minijinja::{Environment, Value};

use super::{Expr, Template, TemplatedValue, environment};

/// Why a template or expression could not be evaluated.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(String);

impl RenderError {
    fn from_jinja(error: &minijinja::Error, source: &str) -> Self {
        let detail = error
            .detail()
            .map(str::to_owned)
            .unwrap_or_else(|| error.kind().to_string());
        let first = source.lines().next().unwrap_or_default();
        let shown = if first.len() > 60 || source.lines().nth(1).is_some() {
            format!("{}…", first.chars().take(60).collect::<String>())
        } else {
            first.to_owned()
        };
        RenderError(format!("{detail} (in `{shown}`)"))
    }
}

/// Renders templates: each distinct template is parsed once per run.
pub struct Renderer {
    env: RwLock<Environment<'static>>,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer {
            env: RwLock::new(environment()),
        }
    }
}

impl Renderer {
    /// Renders a template to text, escaping by its context.
    pub fn render(&self, template: &Template, ctx: &Value) -> Result<String, RenderError> {
        if !template.is_dynamic() {
            return Ok(template.source.clone());
        }
        let key = template.key();
        {
            let env = self
                .env
                .read()
                .map_err(|_| RenderError("renderer poisoned".into()))?;
            if let Ok(t) = env.get_template(&key) {
                return t
                    .render(ctx)
                    .map_err(|e| RenderError::from_jinja(&e, &template.source));
            }
        }
        let mut env = self
            .env
            .write()
            .map_err(|_| RenderError("renderer poisoned".into()))?;
        env.add_template_owned(key.clone(), template.source.clone())
            .map_err(|e| RenderError::from_jinja(&e, &template.source))?;
        let t = env
            .get_template(&key)
            .map_err(|e| RenderError::from_jinja(&e, &template.source))?;
        t.render(ctx)
            .map_err(|e| RenderError::from_jinja(&e, &template.source))
    }

    /// Evaluates an expression.
    pub fn eval(&self, expr: &Expr, ctx: &Value) -> Result<Value, RenderError> {
        let env = self
            .env
            .read()
            .map_err(|_| RenderError("renderer poisoned".into()))?;
        if crate::template::stray_variable_end(&expr.source).is_some() {
            return Err(RenderError(format!(
                "`}}}}` inside the expression `{}`",
                expr.source
            )));
        }
        let compiled = env
            .compile_expression(&expr.source)
            .map_err(|e| RenderError::from_jinja(&e, &expr.source))?;
        let value = compiled
            .eval(ctx)
            .map_err(|e| RenderError::from_jinja(&e, &expr.source))?;
        // Strict undefined: minijinja only complains when an undefined value
        // is used (printed, iterated); one that is the whole result (a
        // missing key, `steps.x.outputs.typo`) is an error too, never `null`.
        if value.is_undefined() {
            return Err(RenderError::from_jinja(
                &minijinja::Error::from(minijinja::ErrorKind::UndefinedError),
                &expr.source,
            ));
        }
        Ok(value)
    }

    /// Renders a value whose strings are templates; a sole `{{ expr }}`
    /// keeps the expression's type.
    pub fn value(
        &self,
        value: &TemplatedValue,
        ctx: &Value,
    ) -> Result<serde_json::Value, RenderError> {
        Ok(match value {
            TemplatedValue::Literal(v) => v.clone(),
            TemplatedValue::Template(t) => match t.sole_expression() {
                Some(expr) => {
                    let v = self.eval(&Expr::new(expr), ctx)?;
                    to_json(&v)?
                }
                None => serde_json::Value::String(self.render(t, ctx)?),
            },
            TemplatedValue::List(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|v| self.value(v, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            TemplatedValue::Map(entries) => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    map.insert(k.clone(), self.value(v, ctx)?);
                }
                serde_json::Value::Object(map)
            }
        })
    }
}

/// A minijinja value as JSON.
pub fn to_json(value: &Value) -> Result<serde_json::Value, RenderError> {
    if value.is_undefined() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::to_value(value).map_err(|e| RenderError(format!("can't convert value: {e}")))
}
