#!/usr/bin/env python3
"""Static checks of the trailhound Terraform module that need no terraform binary (only
python-hcl2): every file parses; every var.X, local.X, resource, data source and module a
configuration refers to is declared; every variable is used, typed and described, every
output described; the examples pass only inputs the module declares and read only outputs it
has; the tests set only declared variables; the Glue tables are built from
schema/lake_tables.json and that file has the shape glue.tf reads; the README's input and
output tables are current.

Prints one line per check and a closing "N passed, M failed" line; exits non-zero on any
failure.

usage: check_hcl.py [--write-readme]   (run from anywhere; --write-readme regenerates the
                                        README tables from variables.tf and outputs.tf)
"""
import json
import re
import sys
from pathlib import Path

import hcl2

MODULE = Path(__file__).resolve().parent.parent
README = MODULE / "README.md"
SCHEMA = MODULE / "schema" / "lake_tables.json"

passed, failed = 0, 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}{': ' + detail if detail else ''}")


def unquote(label):
    """python-hcl2 keeps the quotes of block labels and string literals."""
    if isinstance(label, str) and len(label) >= 2 and label[0] == '"' and label[-1] == '"':
        return label[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return label


def strip_interpolation(value):
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return value


# --- references ---------------------------------------------------------------------------------
#
# python-hcl2 gives an expression as "${<expression text>}" and a string literal (template)
# as '"<text>"'. Only code counts as a reference: the literal text of strings is skipped,
# except for the ${...} interpolations inside them, which are code again.

REFERENCE = re.compile(
    r"(?<![\w.\-])(?:"
    r"(?P<var>var)\.(?P<var_name>[A-Za-z_][\w-]*)"
    r"|(?P<local>local)\.(?P<local_name>[A-Za-z_][\w-]*)"
    r"|(?P<data>data)\.(?P<data_type>[a-z][a-z0-9_]*)\.(?P<data_name>[A-Za-z_][\w-]*)"
    r"|(?P<module>module)\.(?P<module_name>[A-Za-z_][\w-]*)(?:\.(?P<module_output>[A-Za-z_][\w-]*))?"
    r"|(?P<resource_type>aws_[a-z0-9_]+)\.(?P<resource_name>[A-Za-z_][\w-]*)"
    r")"
)


def scan_string(text, i, code):
    """Skips the string literal opening at text[i] (a double quote); appends the code of its
    interpolations to `code`. Returns the index after the closing quote."""
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if text.startswith("$${", i) or text.startswith("%%{", i):
            i += 3
            continue
        if text.startswith("${", i) or text.startswith("%{", i):
            i = scan_code(text, i + 2, code, closing="}")
            continue
        i += 1
    return i


def scan_code(text, i, code, closing=None):
    """Copies code from text[i:] to `code` (string literals blanked, their interpolations
    kept) up to the matching `closing` brace, or the end. Returns the index after it."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            code.append(" ")
            i = scan_string(text, i, code)
            code.append(" ")
            continue
        if c in "{([":
            depth += 1
        elif c in "})]":
            if depth == 0 and closing is not None and c == closing:
                code.append(" ")
                return i + 1
            depth -= 1
        code.append(c)
        i += 1
    return i


def template_code(literal):
    """The code inside a template literal's interpolations."""
    code = []
    scan_string('"' + literal + '"', 0, code)
    return "".join(code)


def value_code(value):
    """The code of a python-hcl2 value (expression, template, or nested structure)."""
    if isinstance(value, dict):
        return " ".join(value_code(k) + " " + value_code(v) for k, v in value.items() if not str(k).startswith("__"))
    if isinstance(value, list):
        return " ".join(value_code(v) for v in value)
    if not isinstance(value, str):
        return ""
    if value.startswith("${") and value.endswith("}"):
        code = []
        scan_code(value, 2, code, closing="}")
        return "".join(code)
    if value.startswith('"') and value.endswith('"'):
        return template_code(value[1:-1])
    return ""


def references(value):
    found = []
    for m in REFERENCE.finditer(value_code(value)):
        if m.group("var"):
            found.append(("var", m.group("var_name")))
        elif m.group("local"):
            found.append(("local", m.group("local_name")))
        elif m.group("data"):
            found.append(("data", f"{m.group('data_type')}.{m.group('data_name')}"))
        elif m.group("module"):
            found.append(("module", m.group("module_name")))
            if m.group("module_output"):
                found.append(("module_output", (m.group("module_name"), m.group("module_output"))))
        else:
            found.append(("resource", f"{m.group('resource_type')}.{m.group('resource_name')}"))
    return found


# --- configurations -----------------------------------------------------------------------------


class Config:
    """The declarations and references of one directory of .tf files."""

    def __init__(self, directory):
        self.directory = directory
        self.files = {}
        self.variables, self.outputs, self.locals = {}, {}, {}
        self.resources, self.data, self.modules = {}, {}, {}
        self.refs = []  # (kind, name, file)

    def load(self):
        for path in sorted(self.directory.glob("*.tf")):
            rel = path.relative_to(MODULE)
            try:
                with open(path) as f:
                    parsed = hcl2.load(f)
            except Exception as error:  # the parser raises several exception types
                check(f"{rel} parses", False, str(error).splitlines()[0][:200])
                continue
            check(f"{rel} parses", True)
            self.files[path.name] = parsed
            self.collect(parsed, path.name)

    def collect(self, parsed, file):
        for block in parsed.get("variable", []):
            for name, body in block.items():
                self.variables[unquote(name)] = body
        for block in parsed.get("output", []):
            for name, body in block.items():
                self.outputs[unquote(name)] = body
        for block in parsed.get("locals", []):
            for name, value in block.items():
                if not name.startswith("__"):
                    self.locals[name] = value
        for kind, table in (("resource", self.resources), ("data", self.data)):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    for rname, body in named.items():
                        if not rname.startswith("__"):
                            table[f"{unquote(rtype)}.{unquote(rname)}"] = body
        for block in parsed.get("module", []):
            for name, body in block.items():
                self.modules[unquote(name)] = body
        for kind, ref in references({k: v for k, v in parsed.items() if k != "terraform"}):
            self.refs.append((kind, ref, file))

    def undeclared(self, kind):
        declared = {
            "var": self.variables,
            "local": self.locals,
            "resource": self.resources,
            "data": self.data,
            "module": self.modules,
        }[kind]
        return sorted({f"{kind}.{name} ({file})" for k, name, file in self.refs if k == kind and name not in declared})


def check_references(config):
    rel = config.directory.relative_to(MODULE.parent)
    kinds = {kind for kind, _, _ in config.refs}
    expected = {"var", "local", "resource", "data"} if config.directory == MODULE else {"var", "module"}
    check(f"{rel}: references are found (the parser's output is understood)", expected <= kinds, f"found kinds {sorted(kinds)}")
    for kind, label in (
        ("var", "var.X"),
        ("local", "local.X"),
        ("resource", "resource"),
        ("data", "data source"),
        ("module", "module"),
    ):
        missing = config.undeclared(kind)
        check(f"{rel}: every {label} reference is declared", not missing, ", ".join(missing))


def check_module(root):
    used = {name for kind, name, _ in root.refs if kind == "var"}
    unused = sorted(set(root.variables) - used)
    check("terraform: every variable is used", not unused, ", ".join(unused))
    undocumented = sorted(
        name
        for name, body in root.variables.items()
        if not unquote(body.get("description", "")).strip() or "type" not in body
    )
    check("terraform: every variable has a type and a description", not undocumented, ", ".join(undocumented))
    undocumented = sorted(name for name, body in root.outputs.items() if not unquote(body.get("description", "")).strip())
    check("terraform: every output has a description", not undocumented, ", ".join(undocumented))

    versions = root.files.get("versions.tf", {})
    terraform = (versions.get("terraform") or [{}])[0]
    aws = ((terraform.get("required_providers") or [{}])[0]).get("aws", {})
    check(
        "terraform: versions.tf requires terraform >= 1.6 and hashicorp/aws >= 5.40, < 6.0",
        unquote(terraform.get("required_version")) == ">= 1.6"
        and aws.get("source") in ('"hashicorp/aws"', "hashicorp/aws")
        and aws.get("version") in ('">= 5.40, < 6.0"', ">= 5.40, < 6.0"),
        f"required_version={terraform.get('required_version')} aws={aws}",
    )

    providers = {rtype.split("_")[0] for rtype in list(root.resources) + list(root.data)}
    check("terraform: only the aws provider is used", providers <= {"aws"}, ", ".join(sorted(providers)))


def check_glue(root):
    """The Glue tables are built from schema/lake_tables.json, and the file has the shape
    glue.tf reads."""
    reads_schema = [
        name
        for name, value in root.locals.items()
        if re.search(r'jsondecode\(\s*file\(\s*"\$\{path\.module\}/schema/lake_tables\.json"\s*\)\s*\)', str(value))
    ]
    check("glue: a local decodes schema/lake_tables.json", len(reads_schema) == 1, f"locals: {reads_schema}")

    table = root.resources.get("aws_glue_catalog_table.lake")
    check("glue: aws_glue_catalog_table.lake exists", table is not None)
    if table is None or not reads_schema:
        return

    # for_each must lead (through locals) to the local that reads the schema file.
    def local_deps(value, seen):
        for kind, name in references(value):
            if kind == "local" and name not in seen:
                seen.add(name)
                local_deps(root.locals.get(name), seen)
        return seen

    check(
        "glue: the tables' for_each derives from the schema file",
        reads_schema[0] in local_deps(table.get("for_each"), set()),
        str(table.get("for_each")),
    )

    dynamics = {}
    for block in table.get("dynamic", []):
        for label, body in block.items():
            dynamics[unquote(label)] = strip_interpolation(body.get("for_each"))
    for block in table.get("storage_descriptor", []):
        for inner in block.get("dynamic", []):
            for label, body in inner.items():
                dynamics[unquote(label)] = strip_interpolation(body.get("for_each"))
    check(
        "glue: columns and partition keys iterate over the schema entry",
        dynamics.get("columns") == "each.value.columns" and dynamics.get("partition_keys") == "each.value.partition_keys",
        str(dynamics),
    )
    check(
        "glue: table parameters substitute ${lake_url} in the schema's parameters",
        "each.value.parameters" in str(table.get("parameters")) and "$${lake_url}" in str(table.get("parameters")),
        str(table.get("parameters"))[:200],
    )

    try:
        schema = json.loads(SCHEMA.read_text())
    except (OSError, ValueError) as error:
        check("glue: schema/lake_tables.json is valid JSON", False, str(error))
        return
    problems = []
    if sorted(schema) != ["alerts", "events"]:
        problems.append(f"tables {sorted(schema)} != ['alerts', 'events']")
    folders = {}
    for key, entry in schema.items():
        folder = entry.get("folder")
        folders[key] = folder
        if not isinstance(folder, str) or not re.fullmatch(r"[a-z_]+", folder or ""):
            problems.append(f"{key}: bad folder {folder!r}")
        for field in ("columns", "partition_keys"):
            items = entry.get(field)
            if not isinstance(items, list) or not items:
                problems.append(f"{key}: {field} missing or empty")
                continue
            for item in items:
                if not (isinstance(item, dict) and set(item) == {"name", "type"} and all(isinstance(v, str) and v for v in item.values())):
                    problems.append(f"{key}: {field} entry {item!r} is not {{name, type}}")
        names = [c.get("name") for c in entry.get("columns", []) + entry.get("partition_keys", []) if isinstance(c, dict)]
        if len(names) != len(set(names)):
            problems.append(f"{key}: duplicate column names")
        parameters = entry.get("parameters")
        if not isinstance(parameters, dict) or not all(isinstance(v, str) for v in parameters.values()):
            problems.append(f"{key}: parameters must map strings to strings")
            continue
        template = parameters.get("storage.location.template", "")
        if not template.startswith(f"${{lake_url}}/{folder}/"):
            problems.append(f"{key}: storage.location.template {template!r} does not start with ${{lake_url}}/{folder}/")
        for partition in entry.get("partition_keys", []):
            if isinstance(partition, dict) and f"${{{partition.get('name')}}}" not in template:
                problems.append(f"{key}: template lacks ${{{partition.get('name')}}}")
    check("glue: schema/lake_tables.json has the shape glue.tf reads", not problems, "; ".join(problems))
    check(
        "glue: table names are the hunt names (cloudtrail, alerts)",
        folders == {"events": "cloudtrail", "alerts": "alerts"},
        str(folders),
    )


def check_example(example, root):
    rel = example.directory.relative_to(MODULE.parent)
    calls = {name: body for name, body in example.modules.items() if unquote(body.get("source")) == "../.."}
    check(f"{rel}: calls the module with source = \"../..\"", len(calls) == 1, str(list(example.modules)))
    meta = {"source", "version", "providers", "count", "for_each", "depends_on"}
    for name, body in calls.items():
        unknown = sorted(k for k in body if k not in meta and not k.startswith("__") and k not in root.variables)
        check(f"{rel}: module.{name} sets only declared inputs", not unknown, ", ".join(unknown))
        required = sorted(n for n, v in root.variables.items() if "default" not in v and n not in body)
        check(f"{rel}: module.{name} sets every required input", not required, ", ".join(required))
    outputs = sorted({f"{m}.{o}" for kind, ref, _ in example.refs if kind == "module_output" for m, o in [ref] if m in calls and o not in root.outputs})
    check(f"{rel}: reads only outputs the module declares", not outputs, ", ".join(outputs))


def check_tests(root):
    files = sorted((MODULE / "tests").glob("*.tftest.hcl"))
    check("tests: there are .tftest.hcl files", bool(files))
    for path in files:
        rel = path.relative_to(MODULE)
        try:
            with open(path) as f:
                parsed = hcl2.load(f)
        except Exception as error:
            check(f"{rel} parses", False, str(error).splitlines()[0][:200])
            continue
        problems = []
        runs = parsed.get("run", [])
        if not runs:
            problems.append("no run blocks")
        variable_sets = [block for block in parsed.get("variables", [])]
        for run in runs:
            for label, body in run.items():
                if not (body.get("assert") or body.get("expect_failures")) and unquote(body.get("command")) != "plan":
                    problems.append(f"run {label} asserts nothing")
                variable_sets.extend(body.get("variables", []))
        for block in variable_sets:
            for name in block:
                if not name.startswith("__") and name not in root.variables:
                    problems.append(f"sets undeclared variable {name}")
        mocks = parsed.get("mock_provider", [])
        if not mocks:
            problems.append("no mock_provider (tests must not reach AWS)")
        check(f"{rel}: parses, mocks AWS, every run asserts, sets only declared variables", not problems, "; ".join(problems))


# --- README tables --------------------------------------------------------------------------------


def render_value(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value if value.startswith('"') else strip_interpolation(value)
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = [f"{k} = {render_value(v)}" for k, v in value.items() if not str(k).startswith("__")]
        return "{" + ", ".join(items) + "}"
    return str(value)


def cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def readme_tables(root):
    lines = ["| Name | Description | Type | Default |", "|------|-------------|------|---------|"]
    for name, body in root.variables.items():
        description = unquote(body.get("description", ""))
        vtype = strip_interpolation(body.get("type", "any"))
        default = f"`{cell(render_value(body['default']))}`" if "default" in body else "required"
        lines.append(f"| `{name}` | {cell(description)} | `{cell(vtype)}` | {default} |")
    inputs = "\n".join(lines)
    lines = ["| Name | Description |", "|------|-------------|"]
    for name, body in root.outputs.items():
        lines.append(f"| `{name}` | {cell(unquote(body.get('description', '')))} |")
    outputs = "\n".join(lines)
    return inputs, outputs


MARKERS = {
    "inputs": ("<!-- BEGIN GENERATED INPUTS (tests/check_hcl.py --write-readme) -->", "<!-- END GENERATED INPUTS -->"),
    "outputs": ("<!-- BEGIN GENERATED OUTPUTS (tests/check_hcl.py --write-readme) -->", "<!-- END GENERATED OUTPUTS -->"),
}


def with_tables(text, tables):
    for key, table in tables.items():
        begin, end = MARKERS[key]
        start, stop = text.find(begin), text.find(end)
        if start < 0 or stop < start:
            raise ValueError(f"README.md lacks the markers {begin} ... {end}")
        text = text[: start + len(begin)] + "\n" + table + "\n" + text[stop:]
    return text


def main():
    write_readme = "--write-readme" in sys.argv[1:]

    root = Config(MODULE)
    root.load()
    examples = [Config(d) for d in sorted((MODULE / "examples").iterdir()) if d.is_dir()]
    for example in examples:
        example.load()

    check_references(root)
    check_module(root)
    check_glue(root)
    check("examples: there are examples", bool(examples))
    for example in examples:
        check_references(example)
        check_example(example, root)
    check_tests(root)

    inputs, outputs = readme_tables(root)
    try:
        current = README.read_text()
        expected = with_tables(current, {"inputs": inputs, "outputs": outputs})
    except (OSError, ValueError) as error:
        check("README.md input and output tables are current", False, str(error))
    else:
        if write_readme and expected != current:
            README.write_text(expected)
            current = expected
            print("README.md tables rewritten")
        check(
            "README.md input and output tables are current",
            expected == current,
            "run: python terraform/tests/check_hcl.py --write-readme",
        )

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
