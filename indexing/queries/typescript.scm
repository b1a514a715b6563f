; TypeScript and TSX: the JavaScript definitions plus interfaces, types, enums, namespaces.

(class_declaration
  name: (_) @name) @definition.class

(abstract_class_declaration
  name: (_) @name) @definition.class

(class
  name: (_) @name) @definition.class

(interface_declaration
  name: (_) @name) @definition.interface

(type_alias_declaration
  name: (_) @name) @definition.type

(enum_declaration
  name: (_) @name) @definition.enum

(internal_module
  name: (_) @name) @definition.module

(method_definition
  name: [(property_identifier) (private_property_identifier)] @name) @definition.method

(method_signature
  name: (property_identifier) @name) @definition.method

(abstract_method_signature
  name: (property_identifier) @name) @definition.method

(public_field_definition
  name: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function) (function_expression)]) @definition.method

[
  (function_declaration name: (identifier) @name)
  (generator_function_declaration name: (identifier) @name)
  (function_signature name: (identifier) @name)
] @definition.function

(variable_declarator
  name: (identifier) @name
  value: [(arrow_function) (function_expression) (generator_function)]) @definition.function

(program
  (lexical_declaration
    "const"
    (variable_declarator
      name: (identifier) @name
      value: [(string) (number) (template_string) (object) (array) (regex) (true) (false)
              (new_expression) (call_expression) (member_expression) (binary_expression)
              (identifier) (null) (as_expression)]) @definition.constant))

(program
  (export_statement
    declaration: (lexical_declaration
      "const"
      (variable_declarator
        name: (identifier) @name
        value: [(string) (number) (template_string) (object) (array) (regex) (true) (false)
                (new_expression) (call_expression) (member_expression) (binary_expression)
                (identifier) (null) (as_expression)]) @definition.constant)))

(import_statement
  (import_clause
    [
      (identifier) @import.name
      (named_imports (import_specifier name: (_) @import.name))
      (namespace_import (identifier) @import.name)
    ])?
  source: (string (string_fragment) @import.module)) @import
