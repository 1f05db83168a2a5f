//! The functions an expression can call: `opath(value)` and `opath_prefix(value)`, which write
//! a value into an OPATH filter safely (see [`super::opath`]). The parser knows their names and
//! how many values each takes, so a mistake is found by `workflow check`, not during a run.

use serde_json::Value;

use super::opath::{self, Refusal};

/// A function an expression can call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// `opath(value)`: the complete, quoted OPATH literal of a value.
    Opath,
    /// `opath_prefix(value)`: the quoted `-like` pattern of values that start with a text.
    OpathPrefix,
}

impl Function {
    /// Every function, in the order messages list them.
    pub const ALL: [Function; 2] = [Function::Opath, Function::OpathPrefix];

    /// The function's name as written.
    pub fn name(self) -> &'static str {
        match self {
            Function::Opath => "opath",
            Function::OpathPrefix => "opath_prefix",
        }
    }

    /// The function called `name`.
    pub fn named(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    /// How many values it takes.
    pub fn arity(self) -> usize {
        1
    }

    /// A call written the way it is meant to be used, for messages.
    pub fn example(self) -> &'static str {
        match self {
            Function::Opath => "PrimarySmtpAddress -eq ${opath(inputs.user)}",
            Function::OpathPrefix => "DisplayName -like ${opath_prefix(inputs.name)}",
        }
    }

    /// The function's value for `args` (as many as [`Function::arity`] says: the parser sees
    /// to it).
    pub fn apply(self, args: &[Value]) -> Result<Value, Refusal> {
        let value = args.first().unwrap_or(&Value::Null);
        match self {
            Function::Opath => opath::literal(value),
            Function::OpathPrefix => opath::prefix_pattern(value),
        }
        .map(Value::String)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_find_the_functions() {
        for function in Function::ALL {
            assert_eq!(Function::named(function.name()), Some(function));
        }
        assert_eq!(Function::named("OPATH"), None);
        assert_eq!(
            Function::Opath.apply(&[json!("a'b")]).unwrap(),
            json!("'a''b'")
        );
        assert_eq!(
            Function::OpathPrefix.apply(&[json!("a")]).unwrap(),
            json!("'a*'")
        );
    }
}
