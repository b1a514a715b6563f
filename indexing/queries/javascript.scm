; JavaScript (also the base of typescript.scm).

(class_declaration
  name: (_) @name) @definition.class

(class
  name: (_) @name) @definition.class

(method_definition
  name: [(property_identifier) (private_property_identifier)] @name) @definition.method

(field_definition
  property: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function) (function_expression)]) @definition.method

[
  (function_declaration name: (identifier) @name)
  (generator_function_declaration name: (identifier) @name)
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
              (identifier) (null)]) @definition.constant))

(program
  (export_statement
    declaration: (lexical_declaration
      "const"
      (variable_declarator
        name: (identifier) @name
        value: [(string) (number) (template_string) (object) (array) (regex) (true) (false)
                (new_expression) (call_expression) (member_expression) (binary_expression)
                (identifier) (null)]) @definition.constant)))

(assignment_expression
  left: (member_expression
    property: (property_identifier) @name)
  right: [(arrow_function) (function_expression)]) @definition.function

(import_statement
  (import_clause
    [
      (identifier) @import.name
      (named_imports (import_specifier name: (_) @import.name))
      (namespace_import (identifier) @import.name)
    ])?
  source: (string (string_fragment) @import.module)) @import

(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string (string_fragment) @import.module))
  (#eq? @_require "require")) @import
