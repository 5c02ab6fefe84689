# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Almafrica platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read EF Core migration classes from C# source with tree-sitter: no compiler, no database.

A migration is a (partial) class deriving from ``Migration``; EF discovers it only through its
``[Migration("yyyyMMddHHmmss_Name")]`` attribute (normally in the ``.Designer.cs`` part) and groups it by
``[DbContext(typeof(X))]``. ``read_migrations(files)`` merges the partial parts of every class and returns,
per migration, the operations its ``Up()`` and ``Down()`` call on their ``MigrationBuilder`` parameter
(whatever it is named), with arguments resolved to Python values: positional and named arguments mapped
through EF's signatures, string literals of every C# kind, ``new[] {...}`` / ``[...]`` arrays, ``nameof``,
string constants of the class and concatenations. What cannot be resolved is kept as ``Unresolved(text)``.
"""
from __future__ import annotations

import decimal
import operator
import os
import re

from ansible_collections.almafrica.rollback.plugins.module_utils.lint.project import (
    PROVIDER_MARKERS, resolve_bases, skip_model_bodies)

try:
    import tree_sitter
    import tree_sitter_c_sharp
    HAS_TREE_SITTER = True
    TREE_SITTER_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module with missing_required_lib
    HAS_TREE_SITTER = False
    TREE_SITTER_IMPORT_ERROR = exc

# Positional parameter order of MigrationBuilder's methods (EF Core 3..10 kept them stable). Singular overloads
# (column/columns, principalColumn/principalColumns, ...) share a position and are stored under the plural name.
SIGNATURES = {
    "AddColumn": ["name", "table", "type", "unicode", "maxLength", "rowVersion", "schema", "nullable",
                  "defaultValue", "defaultValueSql", "computedColumnSql", "fixedLength", "comment", "collation",
                  "precision", "scale", "stored"],
    "AlterColumn": ["name", "table", "type", "unicode", "maxLength", "rowVersion", "schema", "nullable",
                    "defaultValue", "defaultValueSql", "computedColumnSql", "oldClrType", "oldType", "oldUnicode",
                    "oldMaxLength", "oldRowVersion", "oldNullable", "oldDefaultValue", "oldDefaultValueSql",
                    "oldComputedColumnSql", "comment", "oldComment", "fixedLength", "oldFixedLength", "collation",
                    "oldCollation", "precision", "oldPrecision", "scale", "oldScale", "stored", "oldStored"],
    "DropColumn": ["name", "table", "schema"],
    "RenameColumn": ["name", "table", "newName", "schema"],
    "CreateTable": ["name", "columns", "schema", "constraints", "comment"],
    "DropTable": ["name", "schema"],
    "RenameTable": ["name", "schema", "newName", "newSchema"],
    "AlterTable": ["name", "schema", "comment", "oldComment"],
    "CreateIndex": ["name", "table", "columns", "schema", "unique", "filter", "descending"],
    "DropIndex": ["name", "table", "schema"],
    "RenameIndex": ["name", "newName", "table", "schema"],
    "AddForeignKey": ["name", "table", "columns", "principalTable", "schema", "principalSchema",
                      "principalColumns", "onUpdate", "onDelete"],
    "DropForeignKey": ["name", "table", "schema"],
    "AddPrimaryKey": ["name", "table", "columns", "schema"],
    "DropPrimaryKey": ["name", "table", "schema"],
    "AddUniqueConstraint": ["name", "table", "columns", "schema"],
    "DropUniqueConstraint": ["name", "table", "schema"],
    "AddCheckConstraint": ["name", "table", "sql", "schema"],
    "CreateCheckConstraint": ["name", "table", "sql", "schema"],
    "DropCheckConstraint": ["name", "table", "schema"],
    "EnsureSchema": ["name"],
    "DropSchema": ["name"],
    "CreateSequence": ["name", "schema", "startValue", "incrementBy", "minValue", "maxValue", "cyclic"],
    "DropSequence": ["name", "schema"],
    "RenameSequence": ["name", "schema", "newName", "newSchema"],
    "AlterSequence": ["name", "schema", "incrementBy", "minValue", "maxValue", "cyclic"],
    "RestartSequence": ["name", "startValue", "schema"],
    "AlterDatabase": ["collation", "oldCollation"],
    "Sql": ["sql", "suppressTransaction"],
    "InsertData": ["table", "columns", "values", "schema"],
    "DeleteData": ["table", "keyColumns", "keyValues", "schema"],
    "UpdateData": ["table", "keyColumns", "keyValues", "columns", "values", "schema"],
    # Npgsql provider extensions (obsolete since Npgsql 3, still in old folders).
    "EnsurePostgresExtension": ["name", "schema", "version"],
}
# MigrationBuilder's provider tests (EF's MigrationBuilderExtensions and the providers' own): they read
# ActiveProvider and change nothing, so they are no operation (their branches' operations are read as usual).
PROVIDER_QUERIES = frozenset(("IsSqlServer", "IsSqlite", "IsNpgsql", "IsMySql", "IsOracle", "IsInMemory",
                              "IsCosmos", "IsRelational", "IsFirebird", "IsJet"))
# table.Column<T>(...) inside CreateTable(columns: table => new { ... }).
COLUMN_SIGNATURE = ["type", "unicode", "maxLength", "rowVersion", "name", "nullable", "defaultValue", "defaultValueSql",
                    "computedColumnSql", "fixedLength", "comment", "collation", "precision", "scale", "stored"]
PLURAL = {"column": "columns", "principalColumn": "principalColumns", "keyColumn": "keyColumns",
          "keyValue": "keyValues", "value": "values", "columnType": "columnTypes", "keyColumnType": "keyColumnTypes"}

SKIPPED_DIRS = frozenset(("bin", "obj", ".git", "node_modules", ".vs", ".idea"))
_UNICODE_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{1,4}|.)", re.S)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
                   "e": "\x1b", "\\": "\\", "'": "'", '"': '"'}


class Unresolved(object):
    """An argument whose value is only known at run time (a variable, an interpolated string, a call)."""

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Unresolved) and other.text == self.text

    def __hash__(self):
        return hash(("Unresolved", self.text))

    def __repr__(self):
        return "Unresolved(%r)" % (self.text,)


class Symbol(str):
    """An enum member or type name, by its source text (``ReferentialAction.Cascade``)."""


def _is_text(value):
    return isinstance(value, str) and not isinstance(value, Symbol)


class Operation(object):
    """One call on the MigrationBuilder: ``kind`` is the method name, ``args`` the resolved arguments."""

    def __init__(self, kind, args, line, text, file, annotations=None, old_annotations=None, generic=None):
        self.kind = kind
        self.args = args
        self.line = line
        self.text = text
        self.file = file
        self.annotations = annotations or []
        self.old_annotations = old_annotations or []
        self.generic = generic

    def get(self, key, default=None):
        return self.args.get(key, default)

    def where(self):
        return "%s:%d" % (self.file, self.line)

    def __repr__(self):
        return "Operation(%s %r line %d)" % (self.kind, self.args, self.line)


class MigrationMethod(object):
    """``Up`` or ``Down``: ``present`` False when the class does not override it."""

    def __init__(self, name):
        self.name = name
        self.present = False
        self.file = None
        self.line = None
        self.builder = None
        self.statements = 0
        self.throws = None
        self.operations = []
        self.other_calls = []
        self.syntax_errors = []


class MigrationClass(object):
    """The merged partial parts of one class deriving from Migration (or carrying [Migration])."""

    def __init__(self, namespace, name):
        self.namespace = namespace
        self.name = name
        self.files = []
        self.migration_id = None
        self.context = None
        self.derives_from_migration = False
        self.is_snapshot = False
        self.up = MigrationMethod("Up")
        self.down = MigrationMethod("Down")
        self.constants = {}
        self.bases = []  # simple names of the declared base types (no namespace, no generic arguments)
        self.is_abstract = False
        self.is_base = False  # another class of the folder derives from it
        self.inherited = {}  # "Up"/"Down" -> full name of the base class the method comes from
        self.unresolved_base = None  # the first base class not found under the folder, when a method may come from it
        self.providers = set()  # EF providers named in the class' files (Npgsql, MySql, Sqlite, SqlServer)

    @property
    def full_name(self):
        return "%s.%s" % (self.namespace, self.name) if self.namespace else self.name

    @property
    def is_migration(self):
        if self.is_snapshot or self.is_abstract or (self.is_base and self.migration_id is None):
            return False  # EF instantiates neither abstract classes nor the project's own base classes
        return self.derives_from_migration or self.migration_id is not None


_PARSER = None


def csharp_parser():
    global _PARSER
    if _PARSER is None:
        _PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_c_sharp.language()))
    return _PARSER


def _text(node):
    return node.text.decode("utf-8", "replace")


def _decode_regular(body):
    def repl(match):
        esc = match.group(1)
        if esc[0] in "uUx":
            return chr(int(esc[1:], 16))
        return _SIMPLE_ESCAPES.get(esc, esc)
    return _UNICODE_ESCAPE_RE.sub(repl, body)


def _decode_raw(text):
    """C# 11 raw string: strip the quote run; multi-line ones lose the first/last line and the closing indent."""
    quotes = len(text) - len(text.lstrip('"'))
    body = text[quotes:len(text) - quotes]
    if "\n" not in body:
        return body
    lines = body.split("\n")
    indent = lines[-1] if not lines[-1].strip() else ""
    inner = lines[1:-1] if not lines[-1].strip() else lines[1:]
    return "\n".join(ln[len(indent):] if ln.startswith(indent) else ln.lstrip() for ln in inner)


def _named_children(node):
    return [c for c in node.children if c.is_named]


class _Resolver(object):
    """Turns argument expressions into Python values, with the class' string constants.

    Only literals, constants, nameof and their concatenations become ``str``; enum members and type names
    (``ReferentialAction.Cascade``, ``typeof(int)``) become ``Symbol``s, which never concatenate.
    """

    def __init__(self, constants):
        self.constants = constants

    def value(self, node):
        kind = node.type
        if kind == "string_literal":
            return _decode_regular(_text(node)[1:-1])
        if kind == "verbatim_string_literal":
            return _text(node)[2:-1].replace('""', '"')
        if kind == "raw_string_literal":
            return _decode_raw(_text(node))
        if kind == "null_literal":
            return None
        if kind == "boolean_literal":
            return _text(node) == "true"
        if kind == "integer_literal":
            digits = _text(node).rstrip("uUlL").replace("_", "")
            try:
                return int(digits, 0) if digits.lower().startswith(("0x", "0b")) else int(digits)
            except ValueError:
                return Unresolved(_text(node))
        if kind == "real_literal":
            try:  # 0.0, 0m, 1e5f: a number, never to be confused with the string "0.0"
                return decimal.Decimal(_text(node).rstrip("fFdDmM").replace("_", ""))
            except decimal.InvalidOperation:
                return Unresolved(_text(node))
        if kind == "prefix_unary_expression" and _text(node).startswith("-"):
            inner = self.value(_named_children(node)[0])
            if isinstance(inner, bool) or not isinstance(inner, (int, decimal.Decimal)):
                return Unresolved(_text(node))
            return operator.neg(inner)
        if kind == "parenthesized_expression":
            return self.value(_named_children(node)[0])
        if kind in ("implicit_array_creation_expression", "array_creation_expression"):
            inits = [c for c in _named_children(node) if c.type == "initializer_expression"]
            return self.value(inits[0]) if inits else Unresolved(_text(node))
        if kind == "initializer_expression":
            return [self.value(c) for c in _named_children(node)]
        if kind == "collection_expression":
            items = []
            for element in _named_children(node):
                inner = _named_children(element)
                if inner and inner[0].type == "expression_element":
                    inner = _named_children(inner[0])
                items.append(self.value(inner[0]) if inner else Unresolved(_text(element)))
            return items
        if kind == "identifier":
            name = _text(node)
            return self.constants.get(name, Unresolved(name))
        if kind == "binary_expression":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            op = node.child_by_field_name("operator")
            if left is not None and right is not None and (op is None or _text(op) == "+"):
                lval, rval = self.value(left), self.value(right)
                if _is_text(lval) and _is_text(rval):
                    return lval + rval
            return Unresolved(_text(node))
        if kind == "invocation_expression":
            func = node.child_by_field_name("function")
            if func is not None and _text(func) == "nameof":
                return _text(node.child_by_field_name("arguments"))[1:-1].split(".")[-1].strip()
            return Unresolved(_text(node))
        if kind == "typeof_expression":
            return Symbol("typeof(%s)" % _text(node.child_by_field_name("type")))
        if kind in ("member_access_expression", "qualified_name"):
            # Enum values (ReferentialAction.Cascade) and type names: their source text is their meaning.
            text = _text(node)
            return Symbol(text) if re.match(r"^[A-Za-z_][\w.]*$", text) else Unresolved(text)
        return Unresolved(_text(node))


def _argument_values(resolver, arglist, signature):
    """Map an argument_list onto parameter names: named ones by name, positional ones by position."""
    args, position = {}, 0
    for arg in _named_children(arglist):
        if arg.type != "argument":
            continue
        name_node = arg.child_by_field_name("name")
        exprs = [c for c in _named_children(arg) if c is not name_node]
        if not exprs:
            continue
        expr = exprs[-1]
        if name_node is not None:
            key = _text(name_node)
        else:
            key = signature[position] if position < len(signature) else "arg%d" % position
            position += 1
        args[PLURAL.get(key, key)] = expr if key in ("columns", "constraints") and expr.type == "lambda_expression" \
            else resolver.value(expr)
    return args


def _method_name(member_access):
    name = member_access.child_by_field_name("name")
    if name is None:
        return None, None
    if name.type == "generic_name":
        ident = _named_children(name)[0]
        targs = [c for c in _named_children(name) if c.type == "type_argument_list"]
        return _text(ident), (_text(targs[0])[1:-1] if targs else None)
    return _text(name), None


def _table_columns(resolver, lambda_node):
    """CreateTable(columns: table => new { Id = table.Column<int>(type: "integer", ...), ... })."""
    body = lambda_node.child_by_field_name("body")
    columns = []
    if body is None or body.type != "anonymous_object_creation_expression":
        return columns
    pending = None
    for child in _named_children(body):
        if child.type == "identifier" and pending is None:
            pending = _text(child)
            continue
        call = child
        while call.type == "invocation_expression":
            func = call.child_by_field_name("function")
            if func is not None and func.type == "member_access_expression":
                meth, generic = _method_name(func)
                if meth == "Column":
                    spec = _argument_values(resolver, call.child_by_field_name("arguments"), COLUMN_SIGNATURE)
                    name = spec.pop("name", None)
                    columns.append(dict(spec, property=pending, name=name if isinstance(name, str) else pending,
                                        clr_type=generic))
                    break
                call = func.child_by_field_name("expression")
            else:
                break
        pending = None
    return columns


def _statements(body):
    if body is None:
        return []
    if body.type == "block":
        return [c for c in _named_children(body) if c.type != "comment"]
    return [body]  # arrow_expression_clause


def _throw_text(body):
    """The exception a Down() throws at its top level (irreversible migration), or None."""
    for stmt in _statements(body):
        node = stmt
        if node.type == "arrow_expression_clause":
            node = _named_children(node)[0]
        if node.type == "expression_statement" and _named_children(node):
            node = _named_children(node)[0]
        if node.type in ("throw_statement", "throw_expression"):
            inner = _named_children(node)
            return _text(inner[0]) if inner else "throw"
    return None


def _walk(node, visit, named_only=False):
    stack = [node]
    while stack:
        cur = stack.pop()
        if visit(cur) is False:
            continue
        stack.extend(reversed(cur.named_children if named_only else cur.children))


def _read_method(method_node, target, rel_path, resolver):
    params = method_node.child_by_field_name("parameters")
    param_nodes = [p for p in _named_children(params) if p.type == "parameter"] if params is not None else []
    builder = None
    for param in param_nodes:
        ptype = param.child_by_field_name("type")
        if ptype is not None and _text(ptype).split(".")[-1] == "MigrationBuilder":
            builder = _text(param.child_by_field_name("name"))
    if builder is None and len(param_nodes) == 1:
        builder = _text(param_nodes[0].child_by_field_name("name"))
    body = method_node.child_by_field_name("body")
    if body is None:
        body = next((c for c in _named_children(method_node) if c.type == "arrow_expression_clause"), None)
    target.present = True
    target.file = rel_path
    target.line = method_node.start_point[0] + 1
    target.builder = builder
    target.statements = len(_statements(body))
    target.throws = _throw_text(body)
    if body is None or builder is None:
        return

    if body.has_error:
        def error(node):
            if node.type == "ERROR" or node.is_missing:
                target.syntax_errors.append(node.start_point[0] + 1)
        _walk(body, error)

    def visit(node):
        if node.type != "invocation_expression":
            return True
        func = node.child_by_field_name("function")
        arglist = node.child_by_field_name("arguments")
        if func is not None and func.type == "member_access_expression":
            receiver = func.child_by_field_name("expression")
            if receiver is not None and receiver.type == "identifier" and _text(receiver) == builder:
                if _method_name(func)[0] in PROVIDER_QUERIES:
                    return False  # migrationBuilder.IsSqlite(): asks which provider runs, changes nothing
                target.operations.append(_operation(node, func, arglist, rel_path, resolver))
                return False  # its arguments (column lambdas...) hold no further builder call
        # The builder handed to a helper (SqlHelper.RunScript(migrationBuilder, "x.sql")): opaque to us.
        if arglist is not None and any(_text(a).strip() == builder for a in _named_children(arglist)):
            target.other_calls.append(Operation(_text(func) if func is not None else "?", {
                "args": [resolver.value(_named_children(a)[-1]) for a in _named_children(arglist)
                         if a.type == "argument" and _named_children(a)]},
                node.start_point[0] + 1, _first_line(node), rel_path))
        return True

    _walk(body, visit, named_only=True)


def _first_line(node):
    return _text(node).strip().split("\n")[0][:160]


def _operation(call, func, arglist, rel_path, resolver):
    kind, generic = _method_name(func)
    signature = SIGNATURES.get(kind, [])
    args = _argument_values(resolver, arglist, signature) if arglist is not None else {}
    if kind == "CreateTable" and hasattr(args.get("columns"), "type"):
        args["columns"] = _table_columns(resolver, args["columns"])
    if hasattr(args.get("constraints"), "type"):
        args["constraints"] = Unresolved("constraints")
    annotations, old_annotations = [], []
    # Chained builder calls: migrationBuilder.AddColumn(...).Annotation("k", v).OldAnnotation("k", v)
    node = call
    while node.parent is not None and node.parent.type == "member_access_expression" \
            and node.parent.parent is not None and node.parent.parent.type == "invocation_expression":
        chained, _ignored = _method_name(node.parent)
        chained_args = _argument_values(resolver, node.parent.parent.child_by_field_name("arguments"),
                                        ["annotation_name", "annotation_value"])
        if chained in ("Annotation", "OldAnnotation"):
            (annotations if chained == "Annotation" else old_annotations).append(
                (chained_args.get("annotation_name", chained_args.get("name")),
                 chained_args.get("annotation_value", chained_args.get("values"))))
        node = node.parent.parent
    return Operation(kind, args, call.start_point[0] + 1, _first_line(call), rel_path,
                     annotations, old_annotations, generic)


def _namespace_of(node):
    parts = []
    cur = node.parent
    while cur is not None:
        if cur.type in ("namespace_declaration", "file_scoped_namespace_declaration"):
            name = cur.child_by_field_name("name")
            if name is not None:
                parts.append(_text(name))
        elif cur.type == "compilation_unit":
            for child in _named_children(cur):
                if child.type == "file_scoped_namespace_declaration" and child.end_byte <= node.start_byte:
                    name = child.child_by_field_name("name")
                    if name is not None:
                        parts.append(_text(name))
        cur = cur.parent
    return ".".join(reversed(parts))


def _class_declarations(root):
    found = []

    def visit(node):
        if node.type == "class_declaration":
            found.append(node)
            return True
        return node.type in ("compilation_unit", "namespace_declaration", "file_scoped_namespace_declaration",
                             "declaration_list")
    _walk(root, visit)
    return found


def _attributes(class_node, resolver):
    attrs = {}
    for attr_list in (c for c in _named_children(class_node) if c.type == "attribute_list"):
        for attr in (c for c in _named_children(attr_list) if c.type == "attribute"):
            name = _text(attr.child_by_field_name("name")).split(".")[-1]
            if name.endswith("Attribute"):
                name = name[:-len("Attribute")]
            arglists = [c for c in _named_children(attr) if c.type == "attribute_argument_list"]
            values = []
            if arglists:
                for arg in _named_children(arglists[0]):
                    exprs = _named_children(arg)
                    if exprs:
                        expr = exprs[-1]
                        values.append(_text(expr.child_by_field_name("type")) if expr.type == "typeof_expression"
                                      else resolver.value(expr))
            attrs[name] = values
    return attrs


def _constants(class_node):
    consts = {}
    body = class_node.child_by_field_name("body")
    if body is None:
        return consts
    for field in (c for c in _named_children(body) if c.type == "field_declaration"):
        decl = next((c for c in _named_children(field) if c.type == "variable_declaration"), None)
        if decl is None:
            continue
        for var in (c for c in _named_children(decl) if c.type == "variable_declarator"):
            exprs = [c for c in _named_children(var) if c is not var.child_by_field_name("name")]
            if exprs:
                value = _Resolver(consts).value(exprs[-1])
                if _is_text(value):
                    consts[_text(var.child_by_field_name("name"))] = value
    return consts


def find_source_files(root):
    """``*.cs`` files under ``root`` (sorted, build output skipped) and raw SQL resources (``*.sql``, ``*.psql``)."""
    sources, resources = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for fn in sorted(filenames):
            full = os.path.join(dirpath, fn)
            if fn.endswith(".cs"):
                sources.append(full)
            elif fn.lower().endswith((".sql", ".psql")):
                resources.append(full)
    return sources, resources


def _modifiers(class_node):
    return {_text(c) for c in _named_children(class_node) if c.type == "modifier"}


def read_migrations(files, root, on_file=None):
    """Parse ``files`` and return ``[MigrationClass]`` (migrations and model snapshots) in file order.

    Two passes: every part of every class is read first (constants of a partial class may live in another file,
    such as a ``.sql.cs`` part), then the Up()/Down() bodies are resolved with all of them. ``on_file(rel_path)``
    is called before each file is read (the caller's time limit names the file it stopped in).
    """
    parser = csharp_parser()
    classes = {}
    parts = []
    for path in files:
        rel_path = os.path.relpath(path, root)
        if on_file is not None:
            on_file(rel_path)
        with open(path, "rb") as fh:
            source = fh.read()
        if source.startswith(b"\xef\xbb\xbf"):
            source = source[3:]
        providers = {name for marker, name in PROVIDER_MARKERS if marker in source}
        tree = parser.parse(skip_model_bodies(source))
        for class_node in _class_declarations(tree.root_node):
            name = _text(class_node.child_by_field_name("name"))
            key = (_namespace_of(class_node), name)
            cls = classes.get(key)
            if cls is None:
                cls = classes[key] = MigrationClass(key[0], name)
            cls.constants.update(_constants(class_node))
            cls.providers |= providers
            cls.is_abstract |= "abstract" in _modifiers(class_node)
            cls.files.append(rel_path)
            parts.append((cls, class_node, rel_path, tree))
    for cls, class_node, rel_path, _tree in parts:
        if on_file is not None:
            on_file(rel_path)
        resolver = _Resolver(cls.constants)
        attrs = _attributes(class_node, resolver)
        if attrs.get("Migration"):
            cls.migration_id = attrs["Migration"][0] if isinstance(attrs["Migration"][0], str) else None
        if attrs.get("DbContext"):
            cls.context = str(attrs["DbContext"][0]).rsplit(".", maxsplit=1)[-1]
        bases = next((c for c in _named_children(class_node) if c.type == "base_list"), None)
        if bases is not None:
            base_names = [_text(b).split("<")[0].split(".")[-1].strip() for b in _named_children(bases)]
            cls.derives_from_migration |= "Migration" in base_names
            cls.is_snapshot |= "ModelSnapshot" in base_names
            cls.bases.extend(b for b in base_names if b not in cls.bases)
        body = class_node.child_by_field_name("body")
        for method in (c for c in _named_children(body) if c.type == "method_declaration") if body else ():
            mname = _text(method.child_by_field_name("name"))
            if mname in ("Up", "Down"):
                _read_method(method, cls.up if mname == "Up" else cls.down, rel_path, resolver)
    resolve_bases(list(classes.values()))
    return [c for c in classes.values() if c.is_migration or c.is_snapshot]
