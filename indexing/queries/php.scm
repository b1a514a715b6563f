; PHP: namespaces, classes, interfaces, traits, enums, functions, methods, constants, uses.

(namespace_definition
  name: (namespace_name) @name) @definition.module

(class_declaration
  name: (name) @name) @definition.class

(interface_declaration
  name: (name) @name) @definition.interface

(trait_declaration
  name: (name) @name) @definition.trait

(enum_declaration
  name: (name) @name) @definition.enum

(function_definition
  name: (name) @name) @definition.function

(method_declaration
  name: (name) @name) @definition.method

(const_declaration
  (const_element (name) @name)) @definition.constant

(namespace_use_declaration
  (namespace_use_clause [(qualified_name) (name)] @import.module)) @import

[
  (require_expression [(string (string_content) @import.module) (encapsed_string (string_content) @import.module)])
  (require_once_expression [(string (string_content) @import.module) (encapsed_string (string_content) @import.module)])
  (include_expression [(string (string_content) @import.module) (encapsed_string (string_content) @import.module)])
  (include_once_expression [(string (string_content) @import.module) (encapsed_string (string_content) @import.module)])
] @import
