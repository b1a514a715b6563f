; Python: classes, functions (methods by nesting), module-level assignments, imports.

(class_definition
  name: (identifier) @name) @definition.class

(function_definition
  name: (identifier) @name) @definition.function

(module
  (expression_statement
    (assignment
      left: (identifier) @name
      type: (type (identifier) @_t)) @definition.type)
  (#eq? @_t "TypeAlias"))

(module
  (expression_statement
    (assignment
      left: (identifier) @name) @definition.constant))

(type_alias_statement
  left: (type (identifier) @name)) @definition.type

(import_statement
  name: [
    (dotted_name) @import.module
    (aliased_import name: (dotted_name) @import.module)
  ]) @import

(import_from_statement
  module_name: (_) @import.module
  name: [
    (dotted_name) @import.name
    (aliased_import name: (dotted_name) @import.name)
  ]) @import

(import_from_statement
  module_name: (_) @import.module
  (wildcard_import) @import.name) @import
