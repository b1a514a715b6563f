; Kotlin: classes, interfaces, objects, functions, top-level properties, type aliases.

(class_declaration
  "interface"
  name: (identifier) @name) @definition.interface

(class_declaration
  name: (identifier) @name) @definition.class

(object_declaration
  name: (identifier) @name) @definition.class

(function_declaration
  name: (identifier) @name) @definition.function

(source_file
  (property_declaration
    (variable_declaration (identifier) @name)) @definition.variable)

(type_alias
  type: (identifier) @name) @definition.type

(import
  (qualified_identifier) @import.module) @import
