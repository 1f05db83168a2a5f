//! Exchange's OData error envelope (docs/protocol.md §2.4) and the cmdlet errors that produce it.

use serde_json::{Value, json};

/// The server that `ManagementObjectNotFoundException` texts name.
pub const DOMAIN_CONTROLLER: &str = "NAMPR01A001DC01.NAMPR01A001.PROD.OUTLOOK.COM";

/// A cmdlet failure, rendered as Exchange renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct CmdletError {
    /// HTTP status (400 or 404).
    pub status: u16,
    /// `error.code`: `NotFound`, `BadRequest`.
    pub code: &'static str,
    /// `error.message`: the generic text the service always sends.
    pub message: &'static str,
    /// Exchange's error id (may be empty).
    pub error_id: &'static str,
    /// The .NET exception type.
    pub exception: &'static str,
    /// The human text.
    pub text: String,
    /// Whether `details` carries the text; some errors only fill `innererror.internalexception`.
    pub in_details: bool,
}

impl CmdletError {
    /// The object named by `-Identity` does not exist (404).
    pub fn not_found(identity: &str) -> CmdletError {
        CmdletError {
            status: 404,
            code: "NotFound",
            message: "Error executing cmdlet",
            error_id: "Ex6F9304",
            exception: "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            text: format!(
                "The operation couldn't be performed because object '{identity}' couldn't be found on '{DOMAIN_CONTROLLER}'."
            ),
            in_details: true,
        }
    }

    /// `-Identity` matches more than one object.
    pub fn ambiguous(identity: &str) -> CmdletError {
        CmdletError {
            status: 400,
            code: "BadRequest",
            message: "Error executing cmdlet",
            error_id: "Ex9F3FC7",
            exception: "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
            text: format!(
                "The operation couldn't be performed because '{identity}' matches multiple entries."
            ),
            in_details: true,
        }
    }

    /// A parameter the cmdlet does not have.
    pub fn unknown_parameter(name: &str) -> CmdletError {
        CmdletError {
            status: 400,
            code: "BadRequest",
            message: "Invalid Operation",
            error_id: "",
            exception: "Microsoft.Exchange.Management.AdminApiProvider.AmbiguousParameterSetException",
            text: format!("A parameter cannot be found that matches parameter name '{name}'."),
            in_details: true,
        }
    }

    /// A parameter is given twice (its name in two spellings: PowerShell binds names in any
    /// case).
    pub fn parameter_twice(name: &str) -> CmdletError {
        CmdletError {
            status: 400,
            code: "BadRequest",
            message: "Invalid Operation",
            error_id: "",
            exception: "System.Management.Automation.ParameterBindingException",
            text: format!(
                "Cannot bind parameter because parameter '{name}' is specified more than once. To provide multiple values to parameters that can accept multiple values, use the array syntax. For example, \"-parameter value1,value2,value3\"."
            ),
            in_details: true,
        }
    }

    /// A mandatory parameter is missing.
    pub fn missing_parameter(cmdlet: &str, name: &str) -> CmdletError {
        CmdletError {
            status: 400,
            code: "BadRequest",
            message: "Invalid Operation",
            error_id: "",
            exception: "System.Management.Automation.ParameterBindingException",
            text: format!(
                "Cannot process command because of one or more missing mandatory parameters: {name}. ({cmdlet})"
            ),
            in_details: true,
        }
    }

    /// A value that cannot be converted to the parameter's type. Like the real service, the
    /// text is only in `innererror.internalexception`.
    pub fn bad_value(name: &str, value: &str, type_name: &str, reason: &str) -> CmdletError {
        CmdletError {
            status: 400,
            code: "BadRequest",
            message: "Invalid Operation",
            error_id: "",
            exception: "Microsoft.Exchange.Management.AdminApiProvider.ParameterTransformationException",
            text: format!(
                "Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{value}\" to type \"{type_name}\". Error: \"{reason}\""
            ),
            in_details: false,
        }
    }

    /// An enum parameter got a value outside its members.
    pub fn bad_enum(name: &str, value: &str, type_name: &str, members: &[&str]) -> CmdletError {
        CmdletError::bad_value(
            name,
            value,
            type_name,
            &format!(
                "Unable to match the identifier name {value} to a valid enumerator name. Specify one of the following enumerator names and try again: {}",
                members.join(", ")
            ),
        )
    }

    /// A `-Filter` that does not parse or names an unknown property.
    pub fn invalid_filter(text: &str) -> CmdletError {
        CmdletError {
            status: 400,
            code: "BadRequest",
            message: "Invalid Operation",
            error_id: "",
            exception: "Microsoft.Exchange.Management.AdminApiProvider.ParameterBindingException",
            text: format!(
                "Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": \"{text}\""
            ),
            in_details: true,
        }
    }

    /// The cmdlet ran and refused the operation (duplicate, already a member...).
    pub fn task(error_id: &'static str, exception: &'static str, text: String) -> CmdletError {
        CmdletError {
            status: 400,
            code: "BadRequest",
            message: "Error executing cmdlet",
            error_id,
            exception,
            text,
            in_details: true,
        }
    }

    /// `details[0].message`: `ErrorId|Type|text`.
    pub fn detail_message(&self) -> String {
        format!("{}|{}|{}", self.error_id, self.exception, self.text)
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let details = if self.in_details {
            json!([{ "code": "Client", "target": "", "message": self.detail_message() }])
        } else {
            json!([])
        };
        json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "details": details,
                "innererror": {
                    "message": self.message,
                    "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                    "stacktrace": "",
                    "internalexception": {
                        "message": self.text,
                        "type": "Microsoft.Exchange.Management.PSDirectInvoke.DirectInvokeCmdletExecutionException",
                        "stacktrace": "",
                        "internalexception": { "message": self.text, "type": self.exception, "stacktrace": "" }
                    }
                },
                "adminapi.warnings@odata.type": "#Collection(String)",
                "@adminapi.warnings": []
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_has_the_real_shape() {
        let e = CmdletError::not_found("nobody@contoso.com");
        let body = e.body();
        assert_eq!(body["error"]["code"], "NotFound");
        assert_eq!(body["error"]["message"], "Error executing cmdlet");
        let detail = body["error"]["details"][0]["message"].as_str().unwrap();
        let parts: Vec<&str> = detail.splitn(3, '|').collect();
        assert_eq!(parts[0], "Ex6F9304");
        assert!(parts[1].ends_with("ManagementObjectNotFoundException"));
        assert!(parts[2].contains("'nobody@contoso.com' couldn't be found"));
    }

    #[test]
    fn transformation_errors_only_fill_innererror() {
        let e = CmdletError::bad_enum(
            "Type",
            "Big",
            "ConvertibleMailboxSubType",
            &["Regular", "Shared"],
        );
        let body = e.body();
        assert_eq!(body["error"]["details"], json!([]));
        let inner = body["error"]["innererror"]["internalexception"]["message"]
            .as_str()
            .unwrap();
        assert!(inner.contains("Regular, Shared"), "{inner}");
    }
}
