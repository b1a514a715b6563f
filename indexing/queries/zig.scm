; Zig: containers bound to constants, functions, top-level constants, imports.

(variable_declaration
  (identifier) @name
  (struct_declaration)) @definition.struct

(variable_declaration
  (identifier) @name
  (union_declaration)) @definition.struct

(variable_declaration
  (identifier) @name
  (enum_declaration)) @definition.enum

(variable_declaration
  (identifier) @name
  (opaque_declaration)) @definition.type

(variable_declaration
  (identifier) @name
  (error_set_declaration)) @definition.type

(function_declaration
  name: (identifier) @name) @definition.function

(source_file
  (variable_declaration
    "const"
    (identifier) @name) @definition.constant)

(source_file
  (variable_declaration
    "var"
    (identifier) @name) @definition.variable)

(variable_declaration
  (identifier) @import.name
  (builtin_function
    (builtin_identifier) @_import
    (arguments (string (string_content) @import.module)))
  (#eq? @_import "@import")) @import
