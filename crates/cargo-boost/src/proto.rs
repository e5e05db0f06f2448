//! What `cargo boost new` needs from a proto: its package, services and
//! rpcs with the Rust paths tonic and prost give them. Parsed with protox
//! (pure Rust), so a proto that does not parse fails here, naming file and line.

use std::path::{Path, PathBuf};

use heck::{ToSnakeCase, ToUpperCamelCase};
use miette::Diagnostic;

use crate::Error;

/// A parsed `.proto` file and the files it imports (outside `google/protobuf`).
#[derive(Debug, Clone)]
pub struct Api {
    /// The proto's own file name relative to its directory, e.g. `orders.proto`.
    pub file: String,
    /// Every file to copy into the service's `proto/`: (relative name, text).
    pub sources: Vec<(String, String)>,
    /// The proto package, e.g. `shop.orders.v1`.
    pub package: String,
    /// The services the file defines.
    pub services: Vec<ServiceDef>,
}

/// One `service` of the proto.
#[derive(Debug, Clone)]
pub struct ServiceDef {
    /// The proto name, e.g. `Orders`.
    pub name: String,
    /// The rpcs.
    pub rpcs: Vec<Rpc>,
}

/// One `rpc`.
#[derive(Debug, Clone)]
pub struct Rpc {
    /// The proto name, e.g. `GetOrder`.
    pub name: String,
    /// Fully qualified input type, e.g. `.shop.orders.v1.GetOrderRequest`.
    pub input: String,
    /// Fully qualified output type.
    pub output: String,
    /// `stream` requests.
    pub client_streaming: bool,
    /// `stream` responses.
    pub server_streaming: bool,
}

impl Api {
    /// Parses `path` (imports resolved beside it).
    pub fn parse(path: &Path) -> Result<Self, Error> {
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .ok_or_else(|| Error::Proto {
                file: path.display().to_string(),
                line: None,
                message: "not a file name".to_owned(),
            })?
            .to_owned();
        if !path.is_file() {
            return Err(Error::Proto {
                file: path.display().to_string(),
                line: None,
                message: "no such file".to_owned(),
            });
        }
        let set = protox::compile([&file], [&dir]).map_err(|e| parse_error(&dir, path, &e))?;
        let mut sources = Vec::new();
        let mut own = None;
        for fd in &set.file {
            let name = fd.name().to_owned();
            if name.starts_with("google/protobuf/") {
                continue;
            }
            let text = std::fs::read_to_string(dir.join(&name)).map_err(|e| Error::Proto {
                file: dir.join(&name).display().to_string(),
                line: None,
                message: e.to_string(),
            })?;
            sources.push((name.clone(), text));
            if name == file {
                own = Some(fd.clone());
            }
        }
        let own = own.ok_or_else(|| Error::Proto {
            file: path.display().to_string(),
            line: None,
            message: "protox returned no descriptor for it".to_owned(),
        })?;
        let package = own.package().to_owned();
        if package.is_empty() {
            return Err(Error::Proto {
                file: path.display().to_string(),
                line: None,
                message: "has no `package` line: add one, e.g. `package shop.orders.v1;`"
                    .to_owned(),
            });
        }
        for fd in &set.file {
            if !fd.name().starts_with("google/protobuf/") && fd.package() != package {
                return Err(Error::Proto {
                    file: fd.name().to_owned(),
                    line: None,
                    message: format!(
                        "is in package {:?}, not {package:?}: imports from other packages are \
                         not supported yet; give each upstream's proto with --upstream",
                        fd.package()
                    ),
                });
            }
        }
        let services = own
            .service
            .iter()
            .map(|s| ServiceDef {
                name: s.name().to_owned(),
                rpcs: s
                    .method
                    .iter()
                    .map(|m| Rpc {
                        name: m.name().to_owned(),
                        input: m.input_type().to_owned(),
                        output: m.output_type().to_owned(),
                        client_streaming: m.client_streaming(),
                        server_streaming: m.server_streaming(),
                    })
                    .collect(),
            })
            .collect();
        Ok(Self {
            file,
            sources,
            package,
            services,
        })
    }

    /// The Rust path of the message `fq` (e.g. `.shop.orders.v1.Order.Line`)
    /// as seen from `crate::proto::<module>`.
    pub fn rust_type(&self, fq: &str, module: &str) -> String {
        match fq {
            ".google.protobuf.Empty" => return "()".to_owned(),
            _ if fq.starts_with(".google.protobuf.") => {
                return format!("::boost::prost_types::{}", &fq[".google.protobuf.".len()..]);
            }
            _ => {}
        }
        let local = fq
            .strip_prefix(&format!(".{}.", self.package))
            .unwrap_or(fq.trim_start_matches('.'));
        let parts: Vec<&str> = local.split('.').collect();
        let mut path = format!("crate::proto::{module}");
        for (i, part) in parts.iter().enumerate() {
            path.push_str("::");
            if i + 1 == parts.len() {
                path.push_str(&part.to_upper_camel_case());
            } else {
                path.push_str(&part.to_snake_case());
            }
        }
        path
    }
}

impl ServiceDef {
    /// tonic's module name stem: `naive_snake_case` of the camel-cased name.
    pub fn snake(&self) -> String {
        let camel = self.camel();
        let mut out = String::new();
        let mut chars = camel.chars().peekable();
        while let Some(c) = chars.next() {
            out.push(c.to_ascii_lowercase());
            if chars.peek().is_some_and(|n| n.is_uppercase()) {
                out.push('_');
            }
        }
        out
    }

    /// The Rust name of the service trait, e.g. `Orders`.
    pub fn camel(&self) -> String {
        self.name.to_upper_camel_case()
    }
}

impl Rpc {
    /// prost's method name, e.g. `get_order`.
    pub fn method(&self) -> String {
        let snake = self.name.to_snake_case();
        if matches!(
            snake.as_str(),
            "type" | "fn" | "match" | "loop" | "move" | "ref" | "use"
        ) {
            format!("r#{snake}")
        } else {
            snake
        }
    }
}

/// A protox error as [`Error::Proto`], with the line of its first label.
pub(crate) fn parse_error(dir: &Path, path: &Path, error: &protox::Error) -> Error {
    let file = error
        .file()
        .map(|f| dir.join(f).display().to_string())
        .unwrap_or_else(|| path.display().to_string());
    let offset = error
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| label.offset());
    let line = offset.and_then(|offset| {
        let text = std::fs::read_to_string(&file).ok()?;
        let before = text.get(..offset.min(text.len()))?;
        Some(before.matches('\n').count() + 1)
    });
    Error::Proto {
        file,
        line,
        message: error.to_string(),
    }
}
